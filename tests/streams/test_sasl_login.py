"""A SASL login that fails ends a command within the connect wait, with the broker's reason.

Against a real Apache Kafka node whose client listener asks for a login
(PLAIN and SCRAM-SHA-256): the login check accepts the right credentials for
both mechanisms and turns every refusal into one sentence; the worker and a
producer command end with that sentence, in seconds, where the Kafka clients
alone would retry for ever.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from sasl_kafka import USERS, SaslKafka

from policysim.base.settings import Settings
from policysim.policies.examples import EXAMPLES_DIR
from policysim.streams.connect import LoginRefused, wait_for_broker
from policysim.streams.kafka.cluster import unavailable_reason
from policysim.streams.sasl import login_problem

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
USER, PASSWORD = next(iter(USERS.items()))


@pytest.fixture(scope="module")
def sasl_kafka() -> Iterator[SaslKafka]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with SaslKafka() as kafka:
        yield kafka


def _settings(kafka: SaslKafka, mechanism: str, password: str) -> Settings:
    return Settings().replace(
        bootstrap=kafka.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=mechanism,
        sasl_username=USER,
        sasl_password=password,
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_the_right_credentials_log_in(sasl_kafka: SaslKafka, mechanism: str) -> None:
    settings = _settings(sasl_kafka, mechanism, PASSWORD)
    assert login_problem("127.0.0.1", sasl_kafka.port, settings, 10.0) is None
    wait_for_broker(settings)


@pytest.mark.parametrize(
    ("mechanism", "password", "says"),
    [
        ("PLAIN", "wrong", "Invalid username or password"),
        ("SCRAM-SHA-256", "wrong", "invalid credentials"),
        ("SCRAM-SHA-512", PASSWORD, "does not offer this SASL mechanism (it offers PLAIN, SCRAM"),
    ],
)
def test_a_refused_login_is_one_sentence(
    sasl_kafka: SaslKafka, mechanism: str, password: str, says: str
) -> None:
    settings = _settings(sasl_kafka, mechanism, password)
    with pytest.raises(LoginRefused) as refused:
        wait_for_broker(settings)
    message = str(refused.value)
    assert says in message
    assert "refused our login" in message and f"mechanism {mechanism}" in message


@pytest.mark.parametrize(
    "command",
    [
        ["worker", "--policy", str(EXAMPLES_DIR / "pta-vpn-2024.yaml")],
        ["simulate", "small-isp", "--count", "100"],
    ],
)
def test_commands_end_quickly_on_a_refused_login(sasl_kafka: SaslKafka, command: list[str]) -> None:
    env = os.environ | {
        "POLICYSIM_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "POLICYSIM_SASL_MECHANISM": "SCRAM-SHA-256",
        "POLICYSIM_SASL_USERNAME": USER,
        "POLICYSIM_SASL_PASSWORD": "wrong",
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "policysim", *command, "--bootstrap-server", sasl_kafka.bootstrap],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "refused our login" in lines[-1], done.stderr
    assert took < 20, f"took {took:.1f} s"
