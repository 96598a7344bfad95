"""Every message the worker reads is accounted for: verdicts + dead letters = input, exactly.

The batch step is checked without Kafka against hostile inputs (and an engine
that fails on one event); the stream test sends a burst with about 1 % bad
messages through a real worker and the embedded broker.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter

import orjson
import pytest
from hostile_inputs import GOOD, HOSTILE, good_event
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from policysim.app.worker_process import WorkerProcess, sample_sum
from policysim.base.settings import Settings
from policysim.policies.examples import EXAMPLES_DIR as EXAMPLES
from policysim.policies.model import REJECT_REASONS
from policysim.streams.kafka_config import kafka_python_kwargs
from policysim.streams.metrics import WorkerMetrics
from policysim.streams.processing import BatchProcessor, InMessage
from policysim.streams.worker import build_engine


def event(i: int, prefix: str = "a") -> dict:
    return good_event(i, prefix)


def processor(max_event_bytes: int = 4096) -> tuple[BatchProcessor, WorkerMetrics]:
    engine = build_engine([EXAMPLES / "pta-vpn-2024.yaml"], EXAMPLES / "registry.csv")
    metrics = WorkerMetrics(CollectorRegistry())
    return BatchProcessor(engine, metrics, "verdicts", "dlq", max_event_bytes), metrics


def counter(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    total = 0.0
    for family in metrics.registry.collect():
        for sample in family.samples:
            wanted = sample.name == f"{name}_total"
            if wanted and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def assert_invariant(metrics: WorkerMetrics, partitions: set[int]) -> None:
    for p in map(str, partitions):
        for name in ("policysim_accounted_messages", "policysim_accounted_events"):
            read = counter(metrics, name, partition=p, outcome="in")
            done = counter(metrics, name, partition=p, outcome="evaluated")
            rejected = counter(metrics, name, partition=p, outcome="rejected")
            assert read == done + rejected, (name, p)


def test_hostile_messages_each_become_verdicts_or_dead_letters() -> None:
    proc, metrics = processor()
    messages = [InMessage("c", i % 3, i, None, v) for i, v in enumerate(HOSTILE)]
    messages += [InMessage("c", 0, 100 + i, None, orjson.dumps(event(i))) for i in range(5)]
    result = proc.process(messages)
    dead = [orjson.loads(r.value) for r in result.records if r.topic == "dlq"]
    verdicts = [r for r in result.records if r.topic == "verdicts"]
    assert all(d["reason"] in REJECT_REASONS and d["detail"] for d in dead)
    # every hostile message has a dead letter, found by its offset
    assert {d["offset"] for d in dead} == set(range(len(HOSTILE)))
    # the envelopes with a NaN item or an oversized one keep their good event
    kept = sum(1 for v in HOSTILE if v.startswith(b"[" + GOOD + b","))
    assert kept == 3 and len(verdicts) == 5 + kept
    assert result.events == 5 + kept and result.rejected == len(dead)
    assert counter(metrics, "policysim_accounted_messages", outcome="in") == len(messages)
    assert counter(metrics, "policysim_accounted_events", outcome="rejected") == len(dead)
    assert_invariant(metrics, {0, 1, 2})


def test_dead_letter_locates_its_input() -> None:
    proc, _metrics = processor(max_event_bytes=1000)
    big = GOOD.replace(b'"good0"', b'"big","pad":"' + b"x" * 5000 + b'"')
    result = proc.process([InMessage("c", 4, 77, None, b"[" + GOOD + b"," + big + b"]")])
    (dead,) = [orjson.loads(r.value) for r in result.records if r.topic == "dlq"]
    assert (dead["reason"], dead["partition"], dead["offset"], dead["index"]) == (
        "oversize",
        4,
        77,
        1,
    )
    assert (dead["id"], dead["size"], dead["source"]) == ("big", len(big), "c/4/77#1")
    assert big.decode().startswith(dead["raw"]) and big.decode().endswith(dead["tail"])
    assert result.events == 1


class FailsOn:
    """An engine that raises on one event id, as a fault in a rule might."""

    def __init__(self, engine: object, bad_id: str) -> None:
        self.engine, self.bad_id = engine, bad_id
        self.policies = engine.policies

    def evaluate(self, events: list) -> list:
        if any(e.id == self.bad_id for e in events):
            raise ZeroDivisionError("a rule divided by zero")
        return self.engine.evaluate(events)


def test_engine_failure_rejects_only_the_event_it_fails_on(caplog) -> None:
    proc, metrics = processor()
    proc.engine = FailsOn(proc.engine, "a3")
    envelope = orjson.dumps([event(i) for i in range(6)])
    result = proc.process([InMessage("c", 1, 5, None, envelope)])
    (dead,) = [orjson.loads(r.value) for r in result.records if r.topic == "dlq"]
    assert dead["reason"] == "internal_error"
    assert dead["detail"] == "ZeroDivisionError: a rule divided by zero"
    assert (dead["id"], dead["offset"]) == ("a3", 5)
    (verdicts,) = [orjson.loads(r.value) for r in result.records if r.topic == "verdicts"]
    assert [v["id"] for v in verdicts] == ["a0", "a1", "a2", "a4", "a5"]
    assert counter(metrics, "policysim_accounted_events", outcome="evaluated") == 5
    assert counter(metrics, "policysim_accounted_messages", outcome="evaluated") == 1
    assert_invariant(metrics, {1})
    assert "1 input(s) failed inside the worker; they are in dlq" in caplog.text


def test_a_message_that_breaks_the_batch_is_its_own_dead_letter(monkeypatch) -> None:
    import policysim.streams.processing as processing

    real = processing.decode_message

    def flaky(raw: bytes, source: str = "", max_bytes: int = 0) -> list:
        if raw == b'"boom"':
            raise MemoryError("out of memory in the decoder")
        return real(raw, source, max_bytes)

    monkeypatch.setattr(processing, "decode_message", flaky)
    proc, metrics = processor()
    messages = [
        InMessage("c", 0, 1, None, orjson.dumps(event(1))),
        InMessage("c", 0, 2, None, b'"boom"'),
        InMessage("c", 0, 3, None, orjson.dumps(event(3))),
    ]
    result = proc.process(messages)
    (dead,) = [orjson.loads(r.value) for r in result.records if r.topic == "dlq"]
    assert (dead["reason"], dead["offset"]) == ("internal_error", 2)
    assert dead["detail"] == "MemoryError: out of memory in the decoder"
    assert result.events == 2
    # counted once, although the batch was tried whole first
    assert counter(metrics, "policysim_accounted_messages", outcome="in") == 3
    assert counter(metrics, "policysim_messages") == 3
    assert_invariant(metrics, {0})


def fuzzed(rng: random.Random) -> bytes:
    """A bad message: a regression input, or a good one with bytes flipped or cut."""
    if rng.random() < 0.5:
        return rng.choice(HOSTILE)
    raw = bytearray(orjson.dumps(event(rng.randrange(1000), "z")))
    for _ in range(rng.randrange(1, 4)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw[: rng.randrange(1, len(raw) + 1)])


@pytest.mark.kafka
@pytest.mark.slow
def test_burst_with_one_percent_bad_is_accounted_exactly(broker, tmp_path, consume) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(EXAMPLES, folder)
    tag = f"acct-{tmp_path.name[-12:]}"
    settings = Settings(
        bootstrap=broker.bootstrap,
        topic_connections=f"{tag}-connections",
        topic_verdicts=f"{tag}-verdicts",
        topic_registrations=f"{tag}-registrations",
        topic_dlq=f"{tag}-dlq",
        consumer_group=f"{tag}-group",
        max_event_bytes=4096,
    )
    rng = random.Random(20261129)
    messages = [orjson.dumps(event(i, "s")) for i in range(2000)]
    for i in rng.sample(range(len(messages)), 20):
        messages[i] = fuzzed(rng)
    worker = WorkerProcess(
        settings, [folder / "pta-vpn-2024.yaml"], folder / "registry.csv", tmp_path / "w.log"
    )
    proc, _ = processor(4096)  # the same decoding, offline: what each message must become
    expected = proc.process([InMessage("c", 0, i, None, v) for i, v in enumerate(messages)])
    want_verdicts = expected.events
    want_dead = expected.rejected
    with worker:
        worker.wait_ready()
        producer = KafkaProducer(**kafka_python_kwargs(settings))
        for i, value in enumerate(messages):
            producer.send(settings.topic_connections, value, key=str(i).encode())
        producer.flush()
        producer.close()
        verdicts = consume(settings, settings.topic_verdicts, expected=want_verdicts)
        dead = consume(settings, settings.topic_dlq, expected=want_dead)
        samples = worker.wait_for(
            lambda m: (
                sample_sum(m, "policysim_accounted_messages_total", outcome="in") >= len(messages)
            ),
            what="counted",
        )
    assert len(verdicts) == want_verdicts and len(dead) == want_dead
    assert len({v["id"] for v in verdicts}) == want_verdicts
    assert want_verdicts >= 1980 - 4 and want_dead >= 20
    read = sample_sum(samples, "policysim_accounted_messages_total", outcome="in")
    done = sample_sum(samples, "policysim_accounted_messages_total", outcome="evaluated")
    rejected = sample_sum(samples, "policysim_accounted_messages_total", outcome="rejected")
    assert read == done + rejected == len(messages)
    events_in = sample_sum(samples, "policysim_accounted_events_total", outcome="in")
    assert events_in == want_verdicts + want_dead
    assert Counter(d["reason"] for d in dead).keys() <= set(REJECT_REASONS)
