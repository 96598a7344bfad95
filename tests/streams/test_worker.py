"""Proof that the stream worker decides exactly as the offline engine, live, with the real broker.

One worker (a child process, stopped with SIGTERM) serves the whole module,
because a Faust worker takes seconds to join its group; the tests run in file
order and the last one adds a second worker to the same group.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path

import msgspec
import orjson
import pytest
from kafka import KafkaProducer

from policysim.app.worker_process import WorkerProcess, sample_sum
from policysim.base.settings import Settings
from policysim.policies.examples import EXAMPLES_DIR as EXAMPLES
from policysim.policies.model import Event, decode_event, encode
from policysim.policies.registry import RegistryRecord
from policysim.streams.kafka_config import kafka_python_kwargs
from policysim.streams.worker import build_engine

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

POLICIES = ("pta-vpn-2024.yaml", "pta-vpn-lenient.yaml", "pta-vpn-strict.yaml")
DEADLINE = 1733000400.0  # 2024-12-01T00:00:00+05:00
# Sources: registered freelancer, registered bank, an unregistered block; VPN and plain apps.
SOURCES = ("39.40.1.7", "39.50.3.4", "39.60.0.9", "2400:adc0:10::5", "10.9.8.7")
APPS = ("wireguard", "openvpn", "https", None)
DESTS = ("198.51.100.7", "192.0.2.44", "8.8.8.8")
BAD = (
    b"not json at all",
    b'{"id": "m1", "ts": 1}',
    b'{"id": "m2", "ts": 1, "src": "999.1.1.1", "sport": 1, "dst": "1.1.1.1", "dport": 1, '
    b'"proto": "tcp"}',
    b'{"id": "m3", "ts": 1, "src": "1.1.1.1", "sport": "x", "dst": "1.1.1.1", "dport": 1, '
    b'"proto": "tcp"}',
    b"[1, 2]",
)
BAD_REJECTIONS = 6  # the envelope [1, 2] rejects each of its two items


def make_event(i: int, prefix: str = "e", src: str | None = None, ts: float | None = None) -> dict:
    event = {
        "id": f"{prefix}{i}",
        "ts": ts if ts is not None else DEADLINE + (i % 40 - 20) * 3600.0,
        "src": src or SOURCES[i % len(SOURCES)],
        "sport": 40000 + i % 1000,
        "dst": DESTS[i % len(DESTS)],
        "dport": (51820, 443, 1194)[i % 3],
        "proto": ("udp", "tcp")[i % 2],
    }
    app = APPS[i % len(APPS)]
    if app:
        event["app"] = app
    return event


class Stream:
    """The module's worker and its inputs."""

    def __init__(self, settings: Settings, folder: Path, worker: WorkerProcess) -> None:
        self.settings = settings
        self.folder = folder
        self.worker = worker
        self.producer = KafkaProducer(**kafka_python_kwargs(settings))

    def send(self, value: bytes, key: bytes | None = None, topic: str | None = None) -> None:
        headers = [("sent_at", repr(time.time()).encode())]
        self.producer.send(
            topic or self.settings.topic_connections, value, key=key, headers=headers
        )

    def send_events(self, events: list[dict], envelope: int = 1) -> None:
        for start in range(0, len(events), envelope):
            chunk = events[start : start + envelope]
            value = orjson.dumps(chunk if envelope > 1 else chunk[0])
            self.send(value, chunk[0]["src"].encode())
        self.producer.flush()

    def policy_paths(self) -> list[Path]:
        return [self.folder / name for name in POLICIES]


@pytest.fixture(scope="module")
def stream(broker, tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    shutil.copytree(EXAMPLES, folder, dirs_exist_ok=True)
    settings = Settings(
        bootstrap=broker.bootstrap,
        topic_connections="m-connections",
        topic_verdicts="m-verdicts",
        topic_registrations="m-registrations",
        topic_dlq="m-dlq",
        consumer_group="m-group",
        policy_watch_seconds=0.2,
    )
    paths = [folder / name for name in POLICIES]
    worker = WorkerProcess(settings, paths, folder / "registry.csv", folder / "worker-a.log")
    with worker:
        worker.wait_ready()
        s = Stream(settings, folder, worker)
        yield s
        s.producer.close()


def verdict_keys(items: list[dict]) -> Counter:
    return Counter((v["id"], v["policy"], v["decision"], v.get("rule")) for v in items)


def offline_keys(stream: Stream, events: list[dict]) -> Counter:
    engine = build_engine(stream.policy_paths(), stream.folder / "registry.csv")
    decoded = [decode_event(orjson.dumps(e)) for e in events]
    assert all(isinstance(e, Event) for e in decoded)
    per_policy = engine.evaluate(decoded)
    return verdict_keys([orjson.loads(encode(v)) for vs in per_policy for v in vs])


def test_stream_verdicts_equal_offline_engine_and_dlq_adds_up(stream: Stream, consume) -> None:
    singles = [make_event(i) for i in range(300)]
    enveloped = [make_event(i, "v") for i in range(1200)]
    stream.send_events(singles)
    stream.send_events(enveloped, envelope=50)
    for value in BAD:
        stream.send(value)
    stream.send(b"[" + orjson.dumps(make_event(0, "ok-in-bad-envelope")) + b', {"id": 5}]')
    stream.producer.flush()
    events = [*singles, *enveloped, make_event(0, "ok-in-bad-envelope")]

    verdicts = consume(stream.settings, stream.settings.topic_verdicts, expected=3 * len(events))
    assert verdict_keys(verdicts) == offline_keys(stream, events)
    assert {v.get("enforced", True) for v in verdicts if v["policy"] == "pta-vpn-2024"} == {True}
    assert not any(v.get("enforced", True) for v in verdicts if v["policy"] != "pta-vpn-2024")

    rejected = consume(stream.settings, stream.settings.topic_dlq, expected=BAD_REJECTIONS + 1)
    assert len(rejected) == BAD_REJECTIONS + 1
    assert all(r["reason"] and r["source"].startswith("m-connections/") for r in rejected)
    assert Counter(r["reason"] for r in rejected)["not_json"] == 1
    samples = stream.worker.wait_for(
        lambda m: sample_sum(m, "policysim_events_total") >= len(events), what="counted"
    )
    assert sample_sum(samples, "policysim_events_rejected_total") == len(rejected)
    assert sample_sum(samples, "policysim_verdicts_total") == 3 * len(events)
    assert sample_sum(samples, "policysim_verdicts_total", policy="pta-vpn-2024") == len(events)
    enforced = sample_sum(samples, "policysim_policy_info", policy="pta-vpn-2024", enforced="true")
    assert enforced == 1


def wait_verdict(stream: Stream, consume, event_id: str, policy: str = "pta-vpn-2024") -> dict:
    for _ in range(3):
        found = [
            v
            for v in consume(stream.settings, stream.settings.topic_verdicts, until_idle=1.0)
            if v["id"] == event_id and v["policy"] == policy
        ]
        if found:
            return found[0]
    raise AssertionError(f"no verdict for {event_id}")


def test_registration_mid_stream_changes_later_verdicts(stream: Stream, consume) -> None:
    src, ts = "39.77.7.7", DEADLINE + 86400
    vpn = {"app": "wireguard", "dst": "8.8.8.8"}
    stream.send_events([{**make_event(0, "before-", src=src, ts=ts), **vpn}])
    before = wait_verdict(stream, consume, "before-0")
    assert (before["decision"], before["rule"]) == ("block", "unregistered-vpn")

    version = sample_sum(stream.worker.metrics(), "policysim_registry_version")
    record = RegistryRecord(
        entity_id="T-1", category="freelancer", prefixes=[f"{src}/32"], registered_at=ts - 60
    )
    stream.send(msgspec.json.encode(record), b"T-1", stream.settings.topic_registrations)
    stream.producer.flush()
    stream.worker.wait_for(
        lambda m: sample_sum(m, "policysim_registry_version") > version, 5.0, "updated"
    )
    stream.send_events([{**make_event(0, "after-", src=src, ts=ts + 1), **vpn}])
    after = wait_verdict(stream, consume, "after-0")
    assert (after["decision"], after["rule"], after["category"]) == (
        "allow",
        "registered-source",
        "freelancer",
    )


def test_invalid_policy_edit_is_refused_and_old_policy_keeps_deciding(
    stream: Stream, consume
) -> None:
    path = stream.folder / "pta-vpn-2024.yaml"
    original = path.read_text()
    path.write_text(original.replace("rules:", "rules: [broken", 1))
    stream.worker.wait_for(
        lambda m: sample_sum(m, "policysim_policy_reload_failures_total") >= 1, 10, "refusing"
    )
    stream.send_events([make_event(2, "during-bad-edit-")])
    verdict = wait_verdict(stream, consume, "during-bad-edit-2")
    assert verdict["policy_version"] == 3

    path.write_text(original.replace("version: 3 ", "version: 4 ", 1))
    stream.worker.wait_for(
        lambda m: sample_sum(m, "policysim_policy_info", policy="pta-vpn-2024", version="4"),
        10,
        "reloaded",
    )
    stream.send_events([make_event(2, "after-good-edit-")])
    assert wait_verdict(stream, consume, "after-good-edit-2")["policy_version"] == 4


def test_deleted_policy_file_is_logged_and_counted_and_the_policy_stays(
    stream: Stream, consume
) -> None:
    path = stream.folder / "pta-vpn-2024.yaml"
    original = path.read_text()
    path.unlink()
    try:
        stream.worker.wait_for(
            lambda m: sample_sum(m, "policysim_policy_file_missing", policy="pta-vpn-2024") == 1,
            10,
            "noticing the deleted file",
        )
        stream.send_events([make_event(2, "after-delete-")])
        assert wait_verdict(stream, consume, "after-delete-2")["policy_version"] == 4
        log_text = stream.worker.log_path.read_text()
        assert log_text.count(f"policy file {path} is gone") == 1
    finally:
        path.write_text(original.replace("version: 3 ", "version: 5 ", 1))
    stream.worker.wait_for(
        lambda m: sample_sum(m, "policysim_policy_file_missing", policy="pta-vpn-2024") == 0,
        10,
        "loading the file back",
    )


def test_two_workers_share_partitions_and_one_takes_over(stream: Stream, consume) -> None:
    a = stream.worker
    b = WorkerProcess(
        stream.settings,
        stream.policy_paths(),
        stream.folder / "registry.csv",
        stream.folder / "worker-b.log",
    )
    with b:
        b.wait_ready()
        # Ready means caught up: the record sent to `registrations` by an earlier test
        # is in B's registry although B started after it (no changelog, no end_offsets).
        applied = sample_sum(b.metrics(), "policysim_registry_updates_total", outcome="applied")
        assert applied >= 1
        for w in (a, b):
            w.wait_for(
                lambda m: 0 < sample_sum(m, "policysim_assigned_partitions") < 8, 30, "sharing"
            )
        base_a = sample_sum(a.metrics(), "policysim_events_total")
        shared = [make_event(i, "shared-", src=f"10.{i % 64}.0.1") for i in range(400)]
        stream.send_events(shared)
        b.wait_for(lambda m: sample_sum(m, "policysim_events_total") > 0, 30, "consuming")
        a.wait_for(
            lambda m: (
                sample_sum(m, "policysim_events_total")
                - base_a
                + sample_sum(b.metrics(), "policysim_events_total")
                >= len(shared)
            ),
            30,
            "done",
        )
        assert sample_sum(a.metrics(), "policysim_events_total") > base_a
        assert b.stop() == 0  # graceful shutdown on SIGTERM
    a.wait_for(lambda m: sample_sum(m, "policysim_assigned_partitions") == 8, 30, "taking over")
    before = sample_sum(a.metrics(), "policysim_events_total")
    stream.send_events([make_event(i, "takeover-") for i in range(100)])
    a.wait_for(lambda m: sample_sum(m, "policysim_events_total") >= before + 100, 30, "alone")
    ids = {v["id"] for v in consume(stream.settings, stream.settings.topic_verdicts)}
    assert {e["id"] for e in shared} <= ids


def test_offsets_committed_on_shutdown_are_not_processed_again(stream: Stream) -> None:
    """A worker joining the group after the others stopped gently starts where they stopped.

    One new event goes to every partition; any event left uncommitted would be
    re-read before the new one in its partition, so the count would exceed 8.
    """
    assert stream.worker.stop() == 0
    c = WorkerProcess(
        stream.settings,
        stream.policy_paths(),
        stream.folder / "registry.csv",
        stream.folder / "worker-c.log",
    )
    with c:
        c.wait_ready()
        for partition in range(8):
            event = make_event(partition, "after-restart-")
            stream.producer.send(
                stream.settings.topic_connections, orjson.dumps(event), partition=partition
            )
        stream.producer.flush()
        samples = c.wait_for(lambda m: sample_sum(m, "policysim_events_total") >= 8, 30, "done")
        assert sample_sum(samples, "policysim_events_total") == 8
        assert c.stop() == 0
