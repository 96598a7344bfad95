"""A broker that dies and comes back empty under a producer: the loss is counted, not hidden.

The broker here is private to the test (the session's shared one must stay
up). It is killed once the topic holds events on every partition, and
restarted on the same port without them; ``simulate`` keeps sending through
the outage. Every event it sent is then either acknowledged by the new broker
(and so in the new topic) or counted as lost, and the command exits 1.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka_topics import private_settings

from policysim.base.settings import Settings
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


def wait_until(check, timeout: float, what: str) -> None:
    """Poll ``check()`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {timeout} s")
        time.sleep(0.1)


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
