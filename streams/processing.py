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
from typing import NamedTuple

import msgspec

from policysim.policies.model import Event, Rejection, decode_message, encode
from policysim.streams.headers import POLICY_HEADER, TAKEN_AT_HEADER, sent_at_of, time_value
from policysim.streams.metrics import WorkerMetrics, observe_each, observe_many

_lines_encoder = msgspec.json.Encoder()


class InMessage(NamedTuple):
    """A message from the connections topic, whatever client read it.

    :meth:`BatchProcessor.process` reads only these attributes, so a Faust
    message (whose ``headers`` may be None) passes as it is: building one of
    these per message cost the worker more than deciding its event.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] | None = ()


class OutRecord(NamedTuple):
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


def _encode_each(items: list) -> list[bytes]:
    """One JSON document per item from a single call instead of one call per item.

    ``encode_lines`` escapes newlines inside strings, so its output splits
    exactly into the documents ``encode`` would give one by one.
    """
    return _lines_encoder.encode_lines(items).split(b"\n")[:-1]


def _is_envelope(value: bytes) -> bool:
    head = value[:1]
    return head == b"[" or (head.isspace() and value.lstrip()[:1] == b"[")


class BatchProcessor:
    """Decode, evaluate against every policy, and shape the output of a batch.

    ``engine`` is a :class:`policysim.policies.engine.Engine`; it is read afresh on each
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
        taken = (TAKEN_AT_HEADER, time_value(time.time()))
        events: list[Event] = []
        # message, its headers, first event, event count, envelope
        spans: list[tuple[InMessage, Sequence[tuple[str, bytes]], int, int, bool]] = []
        reasons: list[str] = []
        max_bytes = self.max_event_bytes
        for m in messages:
            decoded = decode_message(m.value, "", max_bytes)
            first = len(events)
            for item in decoded:
                if isinstance(item, Rejection):
                    # the source is only needed here, so it is not formatted per message
                    item.source = f"{m.topic}/{m.partition}/{m.offset}{item.source}"
                    reasons.append(item.reason)
                    result.records.append(self._dead_letter(m, item))
                else:
                    events.append(item)
            count = len(events) - first
            if count:
                headers = m.headers or ()
                spans.append((m, headers, first, count, _is_envelope(m.value)))
                sent = sent_at_of(headers)
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
        spans: list[tuple[InMessage, Sequence[tuple[str, bytes]], int, int, bool]],
        result: BatchResult,
        taken: tuple[str, bytes],
    ) -> None:
        engine = self.engine
        started = time.perf_counter()
        per_policy = engine.evaluate(events)
        elapsed = time.perf_counter() - started
        observe_many(self.metrics.decision_seconds, elapsed / len(events), len(events))
        self.metrics.events.inc(len(events))
        keys = [
            m.key if m.key is not None else events[first].src.encode()
            for m, _headers, first, _count, _envelope in spans
        ]
        topic, append = self.verdicts_topic, result.records.append
        for policy, verdicts in zip(engine.policies, per_policy, strict=True):
            self.metrics.count_verdicts(policy.name, verdicts)
            policy_header = (POLICY_HEADER, policy.name.encode())
            singles = iter(_encode_each([verdicts[s[2]] for s in spans if not s[4]]))
            for (m, headers, first, count, envelope), key in zip(spans, keys, strict=True):
                value = encode(verdicts[first : first + count]) if envelope else next(singles)
                append(OutRecord(topic, m.partition, key, value, [*headers, taken, policy_header]))

    def _dead_letter(self, m: InMessage, rejection: Rejection) -> OutRecord:
        headers = [("reason", rejection.reason.encode())]
        return OutRecord(self.dlq_topic, m.partition, m.key, encode(rejection), headers)

    def observe_sent(self, result: BatchResult, now: float | None = None) -> None:
        """Record end-to-end latency once the batch's records are acknowledged."""
        if not result.sent_at:
            return
        now = time.time() if now is None else now
        latencies = [max(now - sent, 0.0) for sent, _count in result.sent_at]
        counts = [count for _sent, count in result.sent_at]
        observe_each(self.metrics.end_to_end_seconds, latencies, counts)
