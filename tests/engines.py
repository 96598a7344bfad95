"""The broker engines the stream tests run on, and a broker of each (skips where it cannot run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysim.streams.broker import Broker, EmbeddedBroker
from policysim.streams.kafka.cluster import ApacheKafka, unavailable_reason

ENGINES = ("tansu", "apache")


@pytest.fixture(scope="session", params=ENGINES, name="broker")
def every_engine(request: pytest.FixtureRequest) -> Broker:
    """The session's broker of the engine this test runs on (a conftest that imports this makes
    ``broker``, and so ``kafka_settings``, parametrized over ENGINES for its folder)."""
    return request.getfixturevalue(f"{request.param}_broker")


def engine_broker(engine: str, log_path: Path, nodes: int = 1) -> Broker:
    """A broker of ``engine`` not started yet; Apache Kafka skips the test where it cannot run."""
    skip_where_it_cannot_run(engine)
    if engine == "tansu":
        return EmbeddedBroker(log_path=log_path)
    return ApacheKafka(nodes=nodes, log_path=log_path)


def skip_where_it_cannot_run(engine: str) -> None:
    """Skip the test, saying why, where ``engine`` cannot run (Apache Kafka without its jars)."""
    reason = unavailable_reason() if engine == "apache" else None
    if reason:
        pytest.skip(reason)
