"""The embedded broker, topic creation and client settings."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest
from engines import ENGINES, engine_broker
from kafka import KafkaProducer

from policysim.base.settings import Settings
from policysim.cli import main
from policysim.policies.examples import EXAMPLES_DIR
from policysim.streams.broker import Broker, api_versions_ok, brokers_registered
from policysim.streams.kafka_config import (
    KafkaConfigError,
    aiokafka_kwargs,
    faust_broker_kwargs,
    kafka_python_kwargs,
)
from policysim.streams.topics import ensure_topics, partition_count, topic_names

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize("engine", ENGINES)
def test_broker_answers_kafka_and_stops(engine: str, tmp_path):
    with engine_broker(engine, tmp_path / "b.log") as b:
        assert b.bootstrap.startswith("127.0.0.1:")
        assert api_versions_ok(b.host, b.port)
        assert brokers_registered(b.host, b.port) == 1
    assert not b.running
    assert not api_versions_ok(b.host, b.port, timeout=0.2)
    assert (tmp_path / "b.log").read_text()


def test_topics_created_once_with_partitions(kafka_settings: Settings):
    assert ensure_topics(kafka_settings) == []
    for name in topic_names(kafka_settings):
        assert partition_count(kafka_settings, name) == 8


def test_round_trip_flattens_envelopes(kafka_settings: Settings, consume):
    producer = KafkaProducer(**kafka_python_kwargs(kafka_settings))
    topic = kafka_settings.topic_verdicts
    producer.send(topic, b'[{"a": 1}, {"a": 2}]')
    producer.send(topic, b'{"a": 3}')
    producer.flush()
    producer.close()
    items = consume(kafka_settings, topic, expected=3)
    assert sorted(i["a"] for i in items) == [1, 2, 3]


def test_security_settings_pass_through():
    s = Settings(
        bootstrap="kafka://k1:9093,k2:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password="p",
    )
    kp = kafka_python_kwargs(s)
    assert kp["bootstrap_servers"] == "k1:9093,k2:9093"
    assert kp["sasl_mechanism"] == "SCRAM-SHA-512" and kp["sasl_plain_password"] == "p"
    ak = aiokafka_kwargs(s)
    assert ak["security_protocol"] == "SASL_SSL" and ak["ssl_context"] is not None
    fk = faust_broker_kwargs(s)
    assert fk["broker"] == "kafka://k1:9093;kafka://k2:9093"
    assert fk["broker_credentials"].username == "u"
    with pytest.raises(KafkaConfigError):
        kafka_python_kwargs(Settings(bootstrap="x:1", security_protocol="BOGUS"))
    with pytest.raises(KafkaConfigError):
        kafka_python_kwargs(Settings())


@pytest.mark.parametrize("engine", ENGINES)
def test_broker_command_prints_bootstrap_and_stops_on_sigterm(engine: str, tmp_path):
    engine_broker(engine, tmp_path / "unused.log")  # skips where Apache Kafka cannot run
    command = ["broker", "--engine", engine, "--log-file", str(tmp_path / "broker.log")]
    process = subprocess.Popen(
        [sys.executable, "-m", "policysim.cli", "--log-level", "WARNING", *command],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        host, port = process.stdout.readline().strip().split(":")
        assert host == "127.0.0.1"
        assert api_versions_ok(host, int(port))
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert not api_versions_ok(host, int(port), timeout=0.2)
    finally:
        process.kill()
        process.wait()


def test_broker_command_refuses_a_port_in_use(broker: Broker, capsys) -> None:
    assert main(["broker", "--port", str(broker.port)]) == 2
    assert capsys.readouterr().err == (
        f"policysim broker: --port {broker.port}: something already listens on {broker.bootstrap}\n"
    )


def test_worker_command_refuses_a_metrics_port_in_use(kafka_settings: Settings, capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["worker", "--policy", str(EXAMPLES_DIR / "pta-vpn-2024.yaml")]
        args += ["--metrics-port", str(port), "--bootstrap-server", kafka_settings.bootstrap]
        assert main(args) == 2
    err = capsys.readouterr().err
    assert err == (
        f"policysim worker: cannot serve metrics on 127.0.0.1:{port}: Address already in use\n"
    )


def test_worker_command_lists_the_problems_of_a_bad_policy(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy: x\nrules: nonsense\n")
    assert main(["worker", "--policy", str(bad), "--bootstrap-server", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(str(bad))
    assert err[-1] == "policysim worker: cannot start: a policy or the registry did not load"


def test_kafka_python_clients_do_not_warn_about_slow_loop_steps() -> None:
    """kafka-python 3 warns when a step of its I/O loop takes 0.1 s; on a busy machine that is
    scheduling, and the warnings landed in the middle of progress bars."""
    from kafka.net.selector import NetworkSelector

    client = kafka_python_kwargs(Settings(bootstrap="127.0.0.1:9092"))["kafka_client"]
    selector = NetworkSelector(**client.keywords)
    assert selector.config["slow_task_threshold_secs"] == 0
