"""A broker that dies and comes back empty under a producer: the loss is counted, not hidden.

The broker here is private to the test (the session's shared one must stay
up). It is killed once the topic holds events on every partition, and
restarted on the same port without them; ``simulate`` keeps sending through
the outage. Every event it sent is then either acknowledged by the new broker
(and so in the new topic) or counted as lost, and the command exits 1.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from kafka_topics import private_settings
from waiting import wait_until

from policysim.app.worker_process import WorkerProcess, sample_sum
from policysim.base.settings import Settings
from policysim.policies.examples import EXAMPLES_DIR
from policysim.streams.broker import EmbeddedBroker
from policysim.streams.reading import read_items

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SUMMARY = re.compile(r"([\d,]+) sent, ([\d,]+) acknowledged, ([\d,]+) lost")


def end_offsets(settings: Settings, topic: str) -> list[int]:
    """Each partition's end offset (an empty list while the topic is unknown)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, request_timeout_ms=5000)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return [ends[tp] for tp in sorted(ends, key=lambda tp: tp.partition)]
    finally:
        consumer.close()


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_simulate_counts_the_events_a_restarted_broker_lost(tmp_path: Path) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    try:
        settings = private_settings(broker.bootstrap, "restart")
        topic = settings.topic_connections
        command = [
            sys.executable, "-m", "policysim", "simulate", "small-isp", "--count", "60000",
            "--rate", "6000", "--batch", "20", "--no-progress",
            "--bootstrap-server", broker.bootstrap, "--topic", topic,
        ]  # fmt: skip
        sender = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_until(
                lambda: min(end_offsets(settings, topic) or [0]) >= 5,
                30,
                "events on every partition before the crash",
            )
            broker.kill()
            broker.start()
            private_settings(broker.bootstrap, "restart")  # the topics again, empty
            out, err = sender.communicate(timeout=120)
        finally:
            if sender.poll() is None:
                sender.kill()
                sender.wait()
        stdout, stderr = out.decode(), err.decode()
        assert sender.returncode == 1, stderr
        assert "Traceback" not in stderr
        assert "policysim simulate: " in stderr and "events were lost" in stderr
        found = SUMMARY.search(stdout)
        assert found, stdout
        sent, acknowledged, lost = (_number(g) for g in found.groups())
        assert sent == 60000
        assert lost > 0
        assert acknowledged + lost == sent
        in_new_topic = read_items(settings, topic, until_idle=3.0, expected=acknowledged + 1)
        assert len(in_new_topic) == acknowledged
    finally:
        broker.stop()


def _events(prefix: str, n: int) -> list[tuple[bytes, bytes]]:
    """``n`` events of distinct sources as (key, value) messages."""
    out = []
    for i in range(n):
        src = f"10.{i % 200}.{i // 200}.7"
        event = {
            "id": f"{prefix}{i}", "ts": 1733000400.0, "src": src, "sport": 40000,
            "dst": "198.51.100.7", "dport": 51820, "proto": "udp", "app": "wireguard",
        }  # fmt: skip
        out.append((src.encode(), json.dumps(event).encode()))
    return out


def _send(settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.bootstrap)
    try:
        for key, value in messages:
            producer.send(settings.topic_connections, value, key=key)
        producer.flush(30)
    finally:
        producer.close()


@pytest.mark.parametrize("topics_back", [True, False], ids=["recreated", "missing"])
def test_worker_reads_the_new_topics_whole_after_a_broker_restart(
    tmp_path: Path, topics_back: bool
) -> None:
    """The broker comes back empty: with the topics made again by someone, or none (the worker
    then makes them itself)."""
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    try:
        settings = private_settings(broker.bootstrap, "worker-restart").replace(
            policy_watch_seconds=1.0
        )
        policy = EXAMPLES_DIR / "pta-vpn-2024.yaml"
        log_path = tmp_path / "worker.log"
        with WorkerProcess(settings, [policy], EXAMPLES_DIR / "registry.csv", log_path) as worker:
            worker.wait_ready()
            _send(settings, _events("old-", 2000))
            worker.wait_for(
                lambda m: sample_sum(m, "policysim_events_total") >= 2000, 60, "done with old"
            )
            broker.kill()
            broker.start()
            if topics_back:
                private_settings(broker.bootstrap, "worker-restart")  # the topics again, empty
            else:
                # The worker makes the topics again when its watch finds them missing; when a
                # client's metadata request reaches the embedded broker first, the broker makes
                # the topic itself with its own partition count (4). Either way it is back.
                wait_until(
                    lambda: len(end_offsets(settings, settings.topic_connections)) > 0,
                    30,
                    "the topics made again",
                )
            _send(settings, _events("new-", 500))
            worker.wait_for(
                lambda m: sample_sum(m, "policysim_broker_resets_total") >= 1, 30, "noticing"
            )
            worker.wait_for(
                lambda m: sample_sum(m, "policysim_worker_ready") == 1, 60, "ready again"
            )
            worker.wait_for(
                lambda m: sample_sum(m, "policysim_events_total") >= 2500, 60, "done with new"
            )
            verdicts = read_items(settings, settings.topic_verdicts, until_idle=5.0)
            decided = {v["id"] for v in verdicts}
            assert decided == {f"new-{i}" for i in range(500)}
        log_text = log_path.read_text()
        assert log_text.count("the broker lost topic") == 1, log_text[-3000:]
    finally:
        broker.stop()
