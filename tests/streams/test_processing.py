"""The worker's batch step and metrics without Kafka: shapes, dead letters, counts."""

from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry, Histogram

from policysim.policies.examples import EXAMPLES_DIR as EXAMPLES
from policysim.policies.model import decode_event, encode
from policysim.streams.metrics import WorkerMetrics, observe_each, observe_many
from policysim.streams.processing import BatchProcessor, InMessage
from policysim.streams.worker import build_engine


def event(i: int) -> dict:
    return {
        "id": f"x{i}",
        "ts": 1733000400 + i,
        "src": "39.40.1.9" if i % 2 else "10.0.0.1",
        "sport": 5000,
        "dst": "198.51.100.7",
        "dport": 51820,
        "proto": "udp",
        "app": "wireguard",
        "truth": {"is_vpn": True, "registered_at_event_time": bool(i % 2)},
    }


def processor() -> tuple[BatchProcessor, WorkerMetrics]:
    engine = build_engine(
        [EXAMPLES / "pta-vpn-2024.yaml", EXAMPLES / "pta-vpn-strict.yaml"],
        EXAMPLES / "registry.csv",
    )
    metrics = WorkerMetrics(CollectorRegistry())
    return BatchProcessor(engine, metrics, "verdicts", "dlq", 4096), metrics


def value(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_batch_keeps_shapes_keys_and_partitions() -> None:
    proc, metrics = processor()
    sent = [("sent_at", b"1733000000.5")]
    messages = [
        InMessage("connections", 3, 10, b"10.0.0.1", orjson.dumps(event(0)), sent),
        InMessage("connections", 5, 11, None, orjson.dumps([event(1), event(2)]), sent),
        InMessage("connections", 5, 12, None, b"{nope", sent),
        InMessage("connections", 5, 13, None, b"[" + b"1" * 5000 + b"]", sent),
    ]
    result = proc.process(messages)
    verdicts = [r for r in result.records if r.topic == "verdicts"]
    dead = [r for r in result.records if r.topic == "dlq"]
    assert len(verdicts) == 4  # two messages with events, two policies
    single = [orjson.loads(r.value) for r in verdicts if r.partition == 3]
    assert all(isinstance(v, dict) and v["id"] == "x0" for v in single)
    envelopes = [orjson.loads(r.value) for r in verdicts if r.partition == 5]
    assert all([v["id"] for v in e] == ["x1", "x2"] for e in envelopes)
    assert {r.key for r in verdicts if r.partition == 5} == {b"39.40.1.9"}
    assert all(("taken_at" in dict(r.headers)) and dict(r.headers)["policy"] for r in verdicts)
    reasons = [orjson.loads(r.value)["reason"] for r in dead]
    assert sorted(reasons) == ["not_json", "oversize"]
    assert orjson.loads(dead[0].value)["source"].startswith("connections/5/")
    assert (result.events, result.rejected) == (3, 2)
    assert result.sent_at == [(1733000000.5, 1), (1733000000.5, 2)]
    assert value(metrics, "policysim_events_rejected_total", reason="oversize") == 1
    assert value(metrics, "policysim_messages_total") == 4
    total = sum(
        value(metrics, "policysim_verdicts_total", policy="pta-vpn-strict", decision=d, rule=r)
        for d in ("allow", "flag", "block")
        for r in ("registered-source", "unregistered-vpn", "vpn-endpoint", "default")
    )
    assert total == 3
    truth = {
        cell: sum(
            value(metrics, "policysim_truth_total", policy="pta-vpn-2024", decision=d, truth=cell)
            for d in ("allow", "flag", "block")
        )
        for cell in ("vpn_registered", "vpn_unregistered")
    }
    assert truth == {"vpn_registered": 1, "vpn_unregistered": 2}


def test_observe_many_equals_repeated_observe() -> None:
    a = Histogram("a", "a", buckets=(0.001, 0.01, 0.1), registry=CollectorRegistry())
    b = Histogram("b", "b", buckets=(0.001, 0.01, 0.1), registry=CollectorRegistry())
    for v, n in ((0.0005, 3), (0.01, 2), (0.5, 4)):
        observe_many(a, v, n)
        for _ in range(n):
            b.observe(v)
    assert _samples(a) == _samples(b)


def test_observe_each_equals_repeated_observe() -> None:
    a = Histogram("a", "a", buckets=(0.001, 0.01, 0.1), registry=CollectorRegistry())
    b = Histogram("b", "b", buckets=(0.001, 0.01, 0.1), registry=CollectorRegistry())
    values, counts = (0.0005, 0.01, 0.5, 0.01), (3, 2, 4, 1)
    observe_each(a, values, counts)
    for v, n in zip(values, counts, strict=True):
        for _ in range(n):
            b.observe(v)
    assert _samples(a) == _samples(b)


def test_verdicts_and_rejections_match_one_by_one_encoding() -> None:
    proc, _metrics = processor()
    bad = [event(1), {"id": "x9"}]
    messages = [
        InMessage("connections", 1, i, None, orjson.dumps(event(i)), None) for i in range(3)
    ] + [InMessage("connections", 2, 7, None, b" " + orjson.dumps(bad), None)]
    result = proc.process(messages)
    verdicts = [r for r in result.records if r.topic == "verdicts"]
    per_event = proc.engine.evaluate([decode_event(orjson.dumps(event(i))) for i in range(3)])
    expected = [encode(v) for policy in per_event for v in policy]
    assert [r.value for r in verdicts if r.partition == 1] == expected
    assert all(isinstance(orjson.loads(r.value), list) for r in verdicts if r.partition == 2)
    (dead,) = [orjson.loads(r.value) for r in result.records if r.topic == "dlq"]
    assert dead["source"] == "connections/2/7#1"


def _samples(histogram: Histogram) -> list[tuple]:
    """Bucket, count and sum samples, without the metric's own name or creation time."""
    return [
        (s.name[1:], s.labels, s.value)
        for s in histogram.collect()[0].samples
        if not s.name.endswith("_created")
    ]
