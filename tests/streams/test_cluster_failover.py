"""A three-node Apache Kafka cluster loses a broker, then its active controller, mid-run.

The topics are durable (three replicas, ``min.insync.replicas`` 2) and every
producer waits for ``acks=all``, as the ``durable`` setting asks. 200,000
events go through the pipeline (envelopes of 100, paced) while one node is
killed with SIGKILL: in one run a broker that is not the KRaft leader, in the
other the node the quorum names its leader (the metadata's ``controller_id`` is
not it: KRaft brokers answer with any controller). Then every event must have
a verdict from every policy, duplicates are counted and printed
(at-least-once), and a worker started afresh after the run rebuilds the same
registry from the ``registrations`` topic, records published while the node
was down included. ``pytest -s`` prints the figures for docs/guarantees.md.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from engines import engine_broker
from kafka.admin import KafkaAdminClient
from waiting import wait_until

from policysim.app.pipeline import Pipeline
from policysim.app.register import register_file
from policysim.app.report_files import report_from_verdicts
from policysim.app.worker_process import WorkerProcess, sample_sum
from policysim.base.settings import Settings, load_settings
from policysim.policies.examples import EXAMPLES_DIR
from policysim.simulators.pacing import PumpResult
from policysim.streams.kafka.cluster import ApacheKafka
from policysim.streams.reading import read_items

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EVENTS = 200_000
ENVELOPE = 100
RATE = 5_000.0  # events/s: the run lasts 40 s, the node dies at about 16 s
KILL_AFTER = 80_000  # events sent
POLICIES = [EXAMPLES_DIR / "pta-vpn-2024.yaml", EXAMPLES_DIR / "pta-vpn-strict.yaml"]
REGISTRY_METRICS = (
    "policysim_registry_version",
    "policysim_registry_prefixes",
    "policysim_registry_addresses",
    "policysim_registry_bytes",
)
LATE_REGISTRATIONS = """\
entity_id,name,category,prefix,registered_at,expires_at
F-0900,Late Freelancer,freelancer,39.60.1.0/24,2024-11-20T09:00:00+05:00,
S-0900,Late Software House,software_house,39.61.16.0/20,2024-11-20T00:00:00+05:00,
"""


def _events() -> Iterator[tuple[str, bytes]]:
    """``EVENTS`` events with ids ``c0``...; the source changes every ``ENVELOPE`` events."""
    for i in range(EVENTS):
        block = i // ENVELOPE
        src = f"10.{block % 250}.{block // 250 % 250}.9"
        event = {
            "id": f"c{i}",
            "ts": 1733000400.0,
            "src": src,
            "sport": 40000,
            "dst": "198.51.100.7",
            "dport": 51820,
            "proto": "udp",
            "app": "wireguard",
        }
        yield src, orjson.dumps(event)


def quorum_leader(bootstrap: str) -> int:
    """The node id of the active KRaft controller (the metadata quorum's leader)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        quorum = admin.describe_metadata_quorum()
    finally:
        admin.close()
    return int(quorum["topics"][0]["partitions"][0]["leader_id"])


def _registry(worker: WorkerProcess) -> dict[str, float]:
    samples = worker.metrics()
    return {name: sample_sum(samples, name) for name in REGISTRY_METRICS}


class Sender(threading.Thread):
    """Sends the events through the pipeline at ``RATE``, counting them as they go out."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(name="sender", daemon=True)
        self.pipeline = pipeline
        self.sent = 0
        self.result: PumpResult | None = None
        self.error: BaseException | None = None

    def _count(self, n: int) -> None:
        self.sent += n

    def run(self) -> None:
        try:
            self.result = self.pipeline.send(_events(), self._count, RATE, ENVELOPE)
        except BaseException as exc:  # reported by the test
            self.error = exc


def _run_losing(victim_of, tmp_path: Path, what: str) -> None:
    """The whole scenario; ``victim_of(cluster)`` picks the node to kill."""
    cluster = engine_broker("apache", tmp_path / "kafka.log", nodes=3)
    assert isinstance(cluster, ApacheKafka)
    with cluster:
        settings: Settings = load_settings(environ={}).replace(
            bootstrap=cluster.bootstrap, durable=True, log_level="WARNING"
        )
        registrations = settings.topic_registrations
        early = register_file(settings, str(EXAMPLES_DIR / "registry.csv"), registrations)
        late_file = tmp_path / "late.csv"
        late_file.write_text(LATE_REGISTRATIONS)
        with Pipeline(settings, POLICIES, None, tmp_path, metrics_port=0) as pipeline:
            assert pipeline.worker is not None
            sender = Sender(pipeline)
            sender.start()
            wait_until(lambda: sender.sent >= KILL_AFTER or not sender.is_alive(), 60, "sending")
            victim = victim_of(cluster)
            cluster.kill_node(victim)
            killed = time.monotonic()
            late = register_file(settings, str(late_file), registrations)
            sender.join(120)
            leader = quorum_leader(cluster.bootstrap)
            assert sender.error is None, sender.error
            assert sender.result is not None
            sent = sender.result
            pipeline.wait_evaluated(EVENTS, timeout=120)
            caught_up = time.monotonic() - killed
            before = _registry(pipeline.worker)
            verdicts = read_items(settings, settings.topic_verdicts, until_idle=3.0)
            pipeline.worker.stop()
            restarted = WorkerProcess(settings, POLICIES, None, tmp_path / "restarted.log")
            with restarted:
                restarted.wait_ready(90)
                after = _registry(restarted)
    seen = Counter((v["id"], v["policy"]) for v in verdicts)
    policies = {v["policy"] for v in verdicts}
    ids = {event_id for event_id, _policy in seen}
    missing = EVENTS * len(POLICIES) - len(seen)
    duplicates = sum(n - 1 for n in seen.values())
    print(
        f"\n{what} (node {victim}) killed: {sent.events:,} events sent, {sent.lost:,} lost by the "
        f"producer; {missing:,} verdicts missing, {duplicates:,} duplicate verdicts; worker done "
        f"{caught_up:.1f} s after the kill; controller {leader} after it; registry {before} "
        f"before, {after} after a restart"
    )
    assert sent.lost == 0 and sent.acknowledged == EVENTS
    assert early.lost == 0 and late.lost == 0
    assert len(policies) == len(POLICIES)
    assert ids == {f"c{i}" for i in range(EVENTS)}
    assert missing == 0
    assert after == before
    assert leader != victim
    # The report of those verdicts counts each event once and the repeats it ignored.
    kept = tmp_path / "verdicts.jsonl"
    kept.write_bytes(b"".join(orjson.dumps(v) + b"\n" for v in verdicts))
    totals = report_from_verdicts(str(kept), tmp_path / "report").report["totals"]
    assert totals["events"] == EVENTS
    assert totals["duplicate_verdicts"] == duplicates


def test_a_broker_killed_mid_run_loses_no_verdict(tmp_path: Path) -> None:
    def follower(cluster: ApacheKafka) -> int:
        leader = quorum_leader(cluster.bootstrap)
        return max(n for n in range(1, cluster.nodes + 1) if n != leader)

    _run_losing(follower, tmp_path, "a broker (not the controller)")


def test_the_active_controller_killed_mid_run_loses_no_verdict(tmp_path: Path) -> None:
    _run_losing(lambda cluster: quorum_leader(cluster.bootstrap), tmp_path, "the active controller")
