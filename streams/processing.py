"""One batch of Kafka messages in, verdict and dead-letter records out.

This is the worker's whole job minus the transport, kept apart from Faust so
the benchmark's plain-aiokafka ceiling and the tests run exactly the same
code. All decoded events of a batch go through the decision core's batch path
in one call; the verdicts are then cut back into one output message per input
message and policy, in the input's shape (an envelope stays an envelope).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from policies.model import Event, Rejection, decode_message, encode
from streams.metrics import WorkerMetrics, observe_many

SENT_AT = "sent_at"
# Added to verdict messages: when the worker took the batch (epoch seconds, ASCII
# decimal), so the pipeline benchmark can split end-to-end latency into the way
# to the worker and the worker's own time.
TAKEN_AT = "taken_at"


@dataclass(frozen=True)
class InMessage:
    """A message from the connections topic, whatever client read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass(frozen=True)
class OutRecord:
    """A message to produce: to the verdicts or the dead-letter topic.

    ``partition`` is the input message's: outputs are keyed like their input,
    so they belong to the same partition number, and the worker can fill one
    record batch per partition instead of paying for a send per message.
    """

    topic: str
    partition: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass
class BatchResult:
    """What to send, and what the end-to-end latency needs once it is sent."""

    records: list[OutRecord] = field(default_factory=list)
    sent_at: list[tuple[float, int]] = field(default_factory=list)  # (send time, events)
    events: int = 0
    rejected: int = 0


def sent_at_of(headers: Sequence[tuple[str, bytes]]) -> float | None:
    """The producer's send time (epoch seconds, ASCII decimal header), if present and sane."""
    for name, value in headers:
        if name == SENT_AT:
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


class BatchProcessor:
    """Decode, evaluate against every policy, and shape the output of a batch.

    ``engine`` is a :class:`policies.engine.Engine`; it is read afresh on each
    batch, so a policy swapped in by the watcher or a registry update applies
    from the next batch on.
    """

    def __init__(
        self,
        engine: object,
        metrics: WorkerMetrics,
        verdicts_topic: str,
        dlq_topic: str,
        max_event_bytes: int,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.verdicts_topic = verdicts_topic
        self.dlq_topic = dlq_topic
        self.max_event_bytes = max_event_bytes

    def process(self, messages: Sequence[InMessage]) -> BatchResult:
        result = BatchResult()
        taken = (TAKEN_AT, f"{time.time():.6f}".encode())
        events: list[Event] = []
        spans: list[tuple[InMessage, int, int, bool]] = []  # message, first, count, envelope
        reasons: list[str] = []
        for m in messages:
            source = f"{m.topic}/{m.partition}/{m.offset}"
            decoded = decode_message(m.value, source, self.max_event_bytes)
            first = len(events)
            for item in decoded:
                if isinstance(item, Rejection):
                    reasons.append(item.reason)
                    result.records.append(self._dead_letter(m, item))
                else:
                    events.append(item)
            count = len(events) - first
            if count:
                spans.append((m, first, count, m.value.lstrip()[:1] == b"["))
                sent = sent_at_of(m.headers)
                if sent is not None:
                    result.sent_at.append((sent, count))
        self.metrics.messages.inc(len(messages))
        if reasons:
            self.metrics.count_rejections(reasons)
            result.rejected = len(reasons)
        if events:
            self._evaluate(events, spans, result, taken)
        result.events = len(events)
        return result

    def _evaluate(
        self,
        events: list[Event],
        spans: list[tuple[InMessage, int, int, bool]],
        result: BatchResult,
        taken: tuple[str, bytes],
    ) -> None:
        engine = self.engine
        started = time.perf_counter()
        per_policy = engine.evaluate(events)
        elapsed = time.perf_counter() - started
        observe_many(self.metrics.decision_seconds, elapsed / len(events), len(events))
        self.metrics.events.inc(len(events))
        headers = [[*m.headers, taken] for m, _first, _count, _envelope in spans]
        for policy, verdicts in zip(engine.policies, per_policy, strict=True):
            self.metrics.count_verdicts(policy.name, verdicts)
            policy_header = ("policy", policy.name.encode())
            for (m, first, count, envelope), stamps in zip(spans, headers, strict=True):
                chunk = verdicts[first : first + count]
                value = encode(chunk) if envelope else encode(chunk[0])
                key = m.key if m.key is not None else events[first].src.encode()
                result.records.append(
                    OutRecord(
                        self.verdicts_topic, m.partition, key, value, [*stamps, policy_header]
                    )
                )

    def _dead_letter(self, m: InMessage, rejection: Rejection) -> OutRecord:
        headers = [("reason", rejection.reason.encode())]
        return OutRecord(self.dlq_topic, m.partition, m.key, encode(rejection), headers)

    def observe_sent(self, result: BatchResult, now: float | None = None) -> None:
        """Record end-to-end latency once the batch's records are acknowledged."""
        now = time.time() if now is None else now
        for sent, count in result.sent_at:
            observe_many(self.metrics.end_to_end_seconds, max(now - sent, 0.0), count)
