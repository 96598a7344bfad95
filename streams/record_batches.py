"""Record batches filled by us, one open per (topic, partition), submitted whole.

aiokafka's per-message ``send`` does bookkeeping per message that costs more
than deciding an event, so both the worker (its verdicts) and the load
generator's ``aiokafka-batch`` path fill aiokafka record batches themselves
with ``create_batch``/``send_batch``. This is that loop, once: appends are
plain calls; a full batch is set aside and a fresh one opened; :meth:`ship`
submits what is due and returns the delivery futures. Each batch carries a
weight (by default its record count; the load generator's envelopes weigh their
events), so a producer can count what the broker acknowledged from the futures
it already has.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

Where = tuple[str, int]  # (topic, partition)


class PartitionBatches:
    """Open record batches of one aiokafka producer, keyed by (topic, partition)."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self._open: dict[Where, Any] = {}
        self._opened: dict[Where, float] = {}  # monotonic time the oldest content of each waited
        self._weight: dict[Where, int] = {}  # weight of each open batch
        self._full: list[tuple[Where, Any, int]] = []

    def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
        timestamp_ms: int | None = None,
        weight: int = 1,
        opened: float | None = None,
    ) -> None:
        """Add a record to its partition's open batch (a full batch is set aside for shipping).

        ``weight`` is what the record counts for in :meth:`ship_weighted` (its events);
        ``opened`` the monotonic time its content started waiting (default: now), so that
        a batch is as old as the oldest event in it.
        """
        where = (topic, partition)
        batch = self._open.get(where) or self._new(where)
        if batch.append(key=key, value=value, timestamp=timestamp_ms, headers=headers) is None:
            self._full.append((where, self._open.pop(where), self._weight.pop(where)))
            batch = self._new(where)
            if batch.append(key=key, value=value, timestamp=timestamp_ms, headers=headers) is None:
                raise ValueError(f"a message of {len(value)} bytes exceeds the batch size")
        self._weight[where] += weight
        if opened is not None and opened < self._opened[where]:
            self._opened[where] = opened

    @property
    def has_full(self) -> bool:
        """Whether a full batch waits to be shipped."""
        return bool(self._full)

    async def ship(self, opened_by: float | None = None) -> list[asyncio.Future]:
        """Submit the full batches, and the open ones created at or before ``opened_by``.

        ``opened_by`` is a monotonic time; ``None`` ships every open batch,
        ``float("-inf")`` only the full ones. Returns the delivery futures.
        """
        return [future for future, _ in await self.ship_weighted(opened_by)]

    async def ship_weighted(
        self, opened_by: float | None = None
    ) -> list[tuple[asyncio.Future, int]]:
        """As :meth:`ship`, with the weight of each submitted batch beside its future."""
        due = self._full
        self._full = []
        for where in list(self._open):
            if opened_by is None or self._opened[where] <= opened_by:
                batch = self._open.pop(where)
                weight = self._weight.pop(where)
                if batch.record_count():
                    due.append((where, batch, weight))
        send_batch = self._producer.send_batch
        return [
            (await send_batch(batch, topic, partition=p), weight)
            for (topic, p), batch, weight in due
        ]

    def _new(self, where: Where) -> Any:
        self._opened[where] = time.monotonic()
        self._weight[where] = 0
        batch = self._open[where] = self._producer.create_batch()
        return batch
