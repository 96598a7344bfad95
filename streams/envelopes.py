"""Packing events into envelopes (JSON arrays), one buffer per Kafka partition.

Stream frameworks pay per message, so several events travel in one message,
as flow exporters do. Events are buffered by the partition their source
address maps to, so one source still stays on one partition; a buffer goes
out when it holds ``batch`` events or its oldest event has waited ``linger``
seconds, or early when the next event would take it over ``max_bytes`` (the
worker's ``max_event_bytes``): ``batch`` is a maximum, and no envelope is
built over the size limit. A message of one event is the plain JSON object
(``batch`` 1 keeps the shape of the original messages).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

PARTITION_CACHE = 1 << 20  # sources whose partition is remembered (then the cache restarts)


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message: where it goes, its key and value, and its send-time stamp."""

    partition: int
    key: bytes | None
    value: bytes
    sent_at: float  # epoch seconds: the scheduled send time of its first event
    events: int
    # Monotonic time its first event was buffered (None: made at once, it never waited), so the
    # producer's own batching counts the wait against the same linger instead of a second one.
    opened: float | None = None


def partition_of(src: str, partitions: int) -> int:
    """The partition of a source address (CRC-32: stable across runs and processes)."""
    return zlib.crc32(src.encode()) % partitions


@dataclass
class _Buffer:
    values: list[bytes] = field(default_factory=list)
    size: int = 1  # bytes of the envelope so far: brackets and commas included
    first_key: str = ""
    opened: float = 0.0  # monotonic time of the first event
    sent_at: float = 0.0


class Enveloper:
    """Buffers events per partition and hands out full or lingering envelopes."""

    def __init__(self, partitions: int, batch: int, linger: float, max_bytes: int = 0) -> None:
        if partitions < 1 or batch < 1 or linger < 0 or max_bytes < 0:
            raise ValueError("partitions and batch must be >= 1, linger and max_bytes >= 0")
        self.partitions = partitions
        self.batch = batch
        self.linger = linger
        self.max_bytes = max_bytes or float("inf")
        self._buffers = [_Buffer() for _ in range(partitions)]
        self._partition: dict[str, int] = {}

    def add(
        self, src: str, value: bytes, sent_at: float, now: Callable[[], float] = time.monotonic
    ) -> Message | None:
        """Buffer one event; return the envelope it completes or closes early, if any.

        ``now`` (a monotonic clock) is only read when the event opens a buffer.
        An event that would take the open envelope over ``max_bytes`` closes
        it and opens the next one.
        """
        partition = self._partition.get(src)
        if partition is None:
            if len(self._partition) >= PARTITION_CACHE:
                self._partition.clear()
            partition = self._partition[src] = partition_of(src, self.partitions)
        if self.batch == 1:
            return Message(partition, src.encode(), value, sent_at, 1)
        buffer = self._buffers[partition]
        closed = None
        if buffer.values and buffer.size + len(value) + 1 > self.max_bytes:
            closed = self._take(partition)
            buffer = self._buffers[partition]
        if not buffer.values:
            buffer.first_key, buffer.opened, buffer.sent_at = src, now(), sent_at
        buffer.values.append(value)
        buffer.size += len(value) + 1
        if len(buffer.values) >= self.batch:
            return self._take(partition)
        return closed

    def expired(self, now: float) -> list[Message]:
        """Envelopes whose oldest event has waited ``linger`` seconds or more."""
        return [
            self._take(p)
            for p, buffer in enumerate(self._buffers)
            if buffer.values and buffer.opened + self.linger <= now  # as next_deadline
        ]

    def next_deadline(self) -> float | None:
        """The monotonic time at which the oldest open buffer must go out."""
        opened = [b.opened for b in self._buffers if b.values]
        return min(opened) + self.linger if opened else None

    def drain(self) -> list[Message]:
        """Every open buffer, now (at the end of a run)."""
        return [self._take(p) for p, buffer in enumerate(self._buffers) if buffer.values]

    def _take(self, partition: int) -> Message:
        buffer = self._buffers[partition]
        values = buffer.values
        self._buffers[partition] = _Buffer()
        if len(values) == 1:
            key = buffer.first_key.encode()
            return Message(partition, key, values[0], buffer.sent_at, 1, buffer.opened)
        envelope = b"[" + b",".join(values) + b"]"
        return Message(partition, None, envelope, buffer.sent_at, len(values), buffer.opened)
