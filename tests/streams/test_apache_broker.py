"""Apache Kafka from its jars: a KRaft cluster on loopback, its settings, a missing JDK or jars."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runs import cli
from engines import engine_broker
from kafka import KafkaAdminClient

from policysim.streams.broker import api_versions_ok, brokers_registered
from policysim.streams.kafka import cluster
from policysim.streams.kafka.server_settings import cluster_settings, node_properties

pytestmark = pytest.mark.kafka


def test_a_three_node_cluster_serves_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """``broker --engine apache --nodes 3``: three nodes listed by each, the topics it made copied
    to all three (without the ``durable`` setting); SIGTERM ends them all."""
    engine_broker("apache", tmp_path / "unused.log")  # skips where Apache Kafka cannot run
    temp = tmp_path / "tmp"
    temp.mkdir()
    log = tmp_path / "broker.log"
    command = ["broker", "--engine", "apache", "--nodes", "3", "--log-file", str(log)]
    process = subprocess.Popen(
        [sys.executable, "-m", "policysim.cli", "--log-level", "WARNING", *command],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(temp)},
    )
    try:
        addresses = [a.split(":") for a in process.stdout.readline().strip().split(",")]
        assert len(addresses) == 3 and {host for host, _ in addresses} == {"127.0.0.1"}
        for host, port in addresses:
            assert api_versions_ok(host, int(port))
            assert brokers_registered(host, int(port)) == 3
        assert _replicas(",".join(f"{h}:{p}" for h, p in addresses), "connections") == {3}
        assert [p.name[:16] for p in temp.iterdir()] == ["policysim-kafka-"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        for host, port in addresses:
            assert not api_versions_ok(host, int(port), timeout=0.2)
        assert list(temp.iterdir()) == []  # the data folder is removed
        assert log.exists() and (tmp_path / "broker-2.log").exists()
    finally:
        process.kill()
        process.wait()


def _replicas(bootstrap: str, topic: str) -> set[int]:
    """The replica counts of ``topic``'s partitions."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        (described,) = admin.describe_topics([topic])
    finally:
        admin.close()
    return {len(partition["replica_nodes"]) for partition in described["partitions"]}


def test_missing_jars_are_one_line_that_says_what_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cluster, "LIB_DIR", tmp_path)
    code, out, err = cli(capsys, "broker", "--engine", "apache")
    assert (code, out) == (2, "")
    assert err == (
        f"policysim broker: Apache Kafka's jars are not in {tmp_path}: run `make kafka` in the"
        " checkout (it needs Maven and a JDK 17+)\n"
    )


def test_missing_java_is_one_line_before_any_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    expected = (
        "Apache Kafka needs Java 17+ and none is on PATH: install a JDK 17+, then run"
        " `make kafka` in the checkout (it needs Maven and a JDK 17+)\n"
    )
    out_dir = tmp_path / "out"
    for argv in (
        ["broker", "--engine", "apache"],
        ["up", "pta-deadline", "--count", "10", "--engine", "apache", "--out", str(out_dir)],
        ["run", "pta-deadline", "--count", "10", "--engine", "apache", "--out", str(out_dir)],
    ):
        code, out, err = cli(capsys, *argv)
        assert (code, out, err) == (2, "", f"policysim {argv[0]}: {expected}")
        assert not out_dir.exists()


def test_the_tansu_engine_has_one_node(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "broker", "--nodes", "3")
    assert code == 2
    assert err == "policysim broker: --nodes 3: the tansu engine runs 1 node; use --engine apache\n"


def test_every_node_votes_and_replication_follows_the_node_count(tmp_path: Path) -> None:
    ports = [(9092, 9093), (9094, 9095), (9096, 9097)]
    second = node_properties(2, ports, tmp_path)
    assert second["node.id"] == "2"
    assert second["controller.quorum.voters"] == (
        "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097"
    )
    assert second["listeners"] == "PLAINTEXT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9095"
    assert second["offsets.topic.replication.factor"] == "3"
    assert second["transaction.state.log.min.isr"] == "2"
    single = cluster_settings(1)
    assert single["offsets.topic.replication.factor"] == "1"
    assert single["transaction.state.log.min.isr"] == "1"


def test_a_cluster_id_is_never_read_as_a_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """An id that starts with "-" made the storage tool refuse to format; such ids are redrawn."""
    draws = iter([bytes([0xF8]) + bytes(15), bytes(16)])  # "-A…" first, then "AAA…"
    monkeypatch.setattr(cluster.uuid, "uuid4", lambda: type("U", (), {"bytes": next(draws)}))
    assert cluster.new_cluster_id() == "A" * 22
