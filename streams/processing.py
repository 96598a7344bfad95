"""One batch of Kafka messages in, verdict and dead-letter records out.

This is the worker's whole job minus the transport, kept apart from Faust so
the benchmark's plain-aiokafka ceiling and the tests run exactly the same
code. All decoded events of a batch go through the decision core's batch path
in one call; the verdicts are then cut back into one output message per input
message and policy, in the input's shape (an envelope stays an envelope).
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from policysim.policies.guarded import evaluate_guarded
from policysim.policies.model import Event, Rejection, decode_message, encode, internal_error
from policysim.streams.headers import POLICY_HEADER, TAKEN_AT_HEADER, sent_at_of, time_value
from policysim.streams.metrics import WorkerMetrics, observe_each, observe_many

log = logging.getLogger(__name__)

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


Span = tuple[InMessage, Sequence[tuple[str, bytes]], int, int, bool]


@dataclass
class _Work:
    """A batch in the making: its records, and what the metrics learn once it is done."""

    result: BatchResult = field(default_factory=BatchResult)
    reasons: list[str] = field(default_factory=list)
    rejected_in: list[int] = field(default_factory=list)  # the partition of each reject
    publish: list[Callable[[], None]] = field(default_factory=list)

    def reject(self, m: InMessage, rejection: Rejection, dlq_topic: str) -> None:
        """A dead-letter record for ``rejection``, found again by ``m``'s partition and offset."""
        # the source is only needed here, so it is not formatted for good messages
        rejection.source = f"{m.topic}/{m.partition}/{m.offset}{rejection.source}"
        rejection.partition = m.partition
        rejection.offset = m.offset
        headers = [("reason", rejection.reason.encode())]
        self.reasons.append(rejection.reason)
        self.rejected_in.append(m.partition)
        self.result.records.append(
            OutRecord(dlq_topic, m.partition, m.key, encode(rejection), headers)
        )


class BatchProcessor:
    """Decode, evaluate against every policy, and shape the output of a batch.

    ``engine`` is a :class:`policysim.policies.engine.Engine`; it is read afresh on each
    batch, so a policy swapped in by the watcher or a registry update applies
    from the next batch on.

    Every input message is accounted for: it becomes verdict records, dead-letter
    records, or both (an envelope's good events decided, each bad one rejected
    with its index). Nothing raised while decoding or evaluating escapes
    :meth:`process`: it becomes an ``internal_error`` dead-letter record and the
    rest of the batch goes on.
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
        """The batch's records; a batch that fails is redone message by message."""
        try:
            result, publish = self._process(messages)
        except Exception:  # the message by message pass names the culprit
            log.debug("batch failed; processing message by message", exc_info=True)
            result, publish = BatchResult(), []
            for m in messages:
                try:
                    one, steps = self._process([m])
                except Exception as exc:  # this message's failure is its dead letter
                    one, steps = self._failed(m, exc)
                _merge(result, one)
                publish.extend(steps)
        # Metrics move only once the records exist, so a redone batch is counted once.
        for step in publish:
            step()
        return result

    def _process(self, messages: Sequence[InMessage]) -> tuple[BatchResult, list[Callable]]:
        work = _Work()
        result = work.result
        taken = (TAKEN_AT_HEADER, time_value(time.time()))
        events: list[Event] = []
        spans: list[Span] = []  # message, its headers, first event, event count, envelope
        max_bytes = self.max_event_bytes
        for m in messages:
            decoded = decode_message(m.value, "", max_bytes)
            first = len(events)
            for item in decoded:
                if isinstance(item, Rejection):
                    work.reject(m, item, self.dlq_topic)
                else:
                    events.append(item)
            count = len(events) - first
            if count:
                headers = m.headers or ()
                spans.append((m, headers, first, count, _is_envelope(m.value)))
                sent = sent_at_of(headers)
                if sent is not None:
                    result.sent_at.append((sent, count))
        if events:
            events, spans = self._evaluate(events, spans, work, taken)
        result.events = len(events)
        result.rejected = len(work.reasons)
        accounts = _accounts(messages, spans, work.rejected_in)
        work.publish.append(lambda: self._count(len(messages), work.reasons, accounts))
        return result, work.publish

    def _count(self, messages: int, reasons: list[str], accounts: dict[int, list[int]]) -> None:
        self.metrics.messages.inc(messages)
        if reasons:
            self.metrics.count_rejections(reasons)
            faults = reasons.count("internal_error")
            if faults:  # a fault of ours, not of the input: worth a line in the log
                log.error(
                    "%d input(s) failed inside the worker; they are in %s with reason "
                    "internal_error and the exception",
                    faults,
                    self.dlq_topic,
                )
        self.metrics.count_accounts(accounts)

    def _evaluate(
        self,
        events: list[Event],
        spans: list[Span],
        work: _Work,
        taken: tuple[str, bytes],
    ) -> tuple[list[Event], list[Span]]:
        """Verdict records for the events; those the engine fails on become dead letters.

        Returns the events that were decided and their spans.
        """
        engine = self.engine
        started = time.perf_counter()
        per_policy, failures = evaluate_guarded(engine, events)
        elapsed = time.perf_counter() - started
        if failures:
            events, spans = self._drop_failed(events, spans, failures, work)
            if not events:
                return events, spans
        n = len(events)
        metrics, publish = self.metrics, work.publish
        publish.append(lambda: observe_many(metrics.decision_seconds, elapsed / n, n))
        publish.append(lambda: metrics.events.inc(n))
        keys = [
            m.key if m.key is not None else events[first].src.encode()
            for m, _headers, first, _count, _envelope in spans
        ]
        topic, append = self.verdicts_topic, work.result.records.append
        for policy, verdicts in zip(engine.policies, per_policy, strict=True):
            publish.append(functools.partial(metrics.count_verdicts, policy.name, verdicts))
            policy_header = (POLICY_HEADER, policy.name.encode())
            singles = iter(_encode_each([verdicts[s[2]] for s in spans if not s[4]]))
            for (m, headers, first, count, envelope), key in zip(spans, keys, strict=True):
                value = encode(verdicts[first : first + count]) if envelope else next(singles)
                append(OutRecord(topic, m.partition, key, value, [*headers, taken, policy_header]))
        return events, spans

    def _drop_failed(
        self,
        events: list[Event],
        spans: list[Span],
        failures: list[tuple[int, Exception]],
        work: _Work,
    ) -> tuple[list[Event], list[Span]]:
        """Dead letters for the events the engine failed on; the rest, re-spanned."""
        failed = dict(failures)
        kept_events: list[Event] = []
        kept_spans: list[Span] = []
        for m, headers, first, count, envelope in spans:
            start = len(kept_events)
            for index in range(first, first + count):
                if index in failed:
                    rejection = internal_error(failed[index], encode(events[index]))
                    rejection.id = events[index].id
                    work.reject(m, rejection, self.dlq_topic)
                else:
                    kept_events.append(events[index])
            if len(kept_events) > start:
                kept_spans.append((m, headers, start, len(kept_events) - start, envelope))
        return kept_events, kept_spans

    def _failed(self, m: InMessage, exc: Exception) -> tuple[BatchResult, list[Callable]]:
        """A message that could not be processed at all: one ``internal_error`` dead letter."""
        value = m.value if isinstance(m.value, bytes) else b""
        work = _Work()
        work.reject(m, internal_error(exc, value), self.dlq_topic)
        work.result.rejected = 1
        accounts = {m.partition: [1, 0, 0, 1]}
        return work.result, [lambda: self._count(1, work.reasons, accounts)]

    def observe_sent(self, result: BatchResult, now: float | None = None) -> None:
        """Record end-to-end latency once the batch's records are acknowledged."""
        if not result.sent_at:
            return
        now = time.time() if now is None else now
        latencies = [max(now - sent, 0.0) for sent, _count in result.sent_at]
        counts = [count for _sent, count in result.sent_at]
        observe_each(self.metrics.end_to_end_seconds, latencies, counts)


def _accounts(
    messages: Sequence[InMessage], spans: list[Span], rejected_in: list[int]
) -> dict[int, list[int]]:
    """Per partition: messages in, messages evaluated, events evaluated, events rejected."""
    accounts: dict[int, list[int]] = {}
    for partition, n in Tally(m.partition for m in messages).items():
        accounts[partition] = [n, 0, 0, 0]
    for m, _headers, _first, count, _envelope in spans:
        account = accounts[m.partition]
        account[1] += 1
        account[2] += count
    for partition, n in Tally(rejected_in).items():
        accounts[partition][3] += n
    return accounts


def _merge(into: BatchResult, other: BatchResult) -> None:
    into.records.extend(other.records)
    into.sent_at.extend(other.sent_at)
    into.events += other.events
    into.rejected += other.rejected
