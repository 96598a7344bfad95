"""A three-node Apache Kafka cluster loses a broker (kill -9) mid-run, or its active controller:
every event still gets a verdict from every policy; duplicates (at-least-once) are counted.

The topics are replicated three times with ``min.insync.replicas=2`` and the events are sent
with ``acks=all``, so what the cluster acknowledged survives one broker. The worker and its
verdict producer are policysim's own, as deployed, with all three cluster addresses.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from engines import engine_broker
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from policysim.app.worker_process import WorkerProcess
from policysim.base.settings import Settings
from policysim.policies.examples import EXAMPLES_DIR
from policysim.streams.kafka_config import kafka_python_kwargs
from policysim.streams.reading import read_items
from policysim.streams.topics import topic_names

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

POLICIES = ("pta-vpn-2024.yaml", "pta-vpn-lenient.yaml", "pta-vpn-strict.yaml")
EVENTS, RATE = 6000, 1000  # six seconds of events; the broker dies after two
SOURCES = ("39.40.1.7", "39.50.3.4", "39.60.0.9", "10.9.8.7")


def event(i: int) -> dict:
    return {
        "id": f"f{i}",
        "ts": 1733000400.0 + (i % 40 - 20) * 3600.0,
        "src": SOURCES[i % len(SOURCES)],
        "sport": 40000 + i % 1000,
        "dst": "198.51.100.7",
        "dport": (51820, 443, 1194)[i % 3],
        "proto": ("udp", "tcp")[i % 2],
        "app": ("wireguard", "https")[i % 2],
    }


def send_paced(settings: Settings, failures: list[BaseException]) -> None:
    """EVENTS events at RATE per second, acks=all, retried across the failover (for 120 s)."""
    producer = KafkaProducer(**kafka_python_kwargs(settings), acks="all", linger_ms=5)
    try:
        start = time.monotonic()
        for i in range(EVENTS):
            delay = start + i / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            producer.send(settings.topic_connections, orjson.dumps(event(i)))
        producer.flush(60)
    except BaseException as exc:  # the test reports it
        failures.append(exc)
    finally:
        producer.close()


def victim(admin: KafkaAdminClient, active_controller: bool) -> int:
    """The active controller (the metadata quorum's leader), or another node."""
    quorum = admin.describe_metadata_quorum()
    leader = quorum["topics"][0]["partitions"][0]["leader_id"]
    return leader if active_controller else next(n for n in (1, 2, 3) if n != leader)


@pytest.mark.parametrize("active_controller", [False, True], ids=["broker", "active-controller"])
def test_kill_9_of_one_node_of_three_loses_no_verdict(
    active_controller: bool, tmp_path: Path
) -> None:
    cluster = engine_broker("apache", tmp_path / "kafka.log", nodes=3)
    with cluster:
        settings = Settings(
            bootstrap=cluster.bootstrap,
            consumer_group="failover",
            durable=True,
            session_timeout_ms=6000,
        )
        admin = KafkaAdminClient(**kafka_python_kwargs(settings))
        admin.create_topics(
            [
                NewTopic(name, 8, 3, topic_configs={"min.insync.replicas": "2"})
                for name in topic_names(settings)
            ]
        )
        killed = victim(admin, active_controller)
        admin.close()
        shutil.copytree(EXAMPLES_DIR, tmp_path / "policies")
        paths = [tmp_path / "policies" / name for name in POLICIES]
        registry = tmp_path / "policies" / "registry.csv"
        with WorkerProcess(settings, paths, registry, tmp_path / "worker.log") as worker:
            worker.wait_ready()
            failures: list[BaseException] = []
            sender = threading.Thread(target=send_paced, args=(settings, failures))
            sender.start()
            time.sleep(EVENTS / RATE / 3)
            cluster.kill_node(killed)
            sender.join(120)
            assert not failures, failures
            verdicts = read_items(settings, settings.topic_verdicts, until_idle=10.0, expected=None)
        pairs = Counter((v["id"], v["policy"]) for v in verdicts)
        missing = {(f"f{i}", p) for i in range(EVENTS) for p in {p for _, p in pairs}} - set(pairs)
        duplicates = sum(n - 1 for n in pairs.values())
        print(f"node {killed} killed: verdicts {len(verdicts)}, duplicates {duplicates}")
        assert len({p for _, p in pairs}) == 3
        assert not missing, f"{len(missing)} verdicts missing, e.g. {sorted(missing)[:5]}"
