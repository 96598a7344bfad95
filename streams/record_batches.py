"""Record batches filled by us, one open per (topic, partition), submitted whole.

aiokafka's per-message ``send`` does bookkeeping per message that costs more
than deciding an event, so both the worker (its verdicts) and the load
generator's ``aiokafka-batch`` path fill aiokafka record batches themselves
with ``create_batch``/``send_batch``. This is that loop, once: appends are
plain calls; a full batch is set aside and a fresh one opened; :meth:`ship`
submits what is due and returns the delivery futures.
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
        self._opened: dict[Where, float] = {}  # monotonic time each open batch was created
        self._full: list[tuple[Where, Any]] = []

    def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
        timestamp_ms: int | None = None,
    ) -> None:
        """Add a record to its partition's open batch (a full batch is set aside for shipping)."""
        where = (topic, partition)
        batch = self._open.get(where) or self._new(where)
        if batch.append(key=key, value=value, timestamp=timestamp_ms, headers=headers) is None:
            self._full.append((where, self._open.pop(where)))
            batch = self._new(where)
            if batch.append(key=key, value=value, timestamp=timestamp_ms, headers=headers) is None:
                raise ValueError(f"a message of {len(value)} bytes exceeds the batch size")

    @property
    def has_full(self) -> bool:
        """Whether a full batch waits to be shipped."""
        return bool(self._full)

    async def ship(self, opened_by: float | None = None) -> list[asyncio.Future]:
        """Submit the full batches, and the open ones created at or before ``opened_by``.

        ``opened_by`` is a monotonic time; ``None`` ships every open batch,
        ``float("-inf")`` only the full ones. Returns the delivery futures.
        """
        due = self._full
        self._full = []
        for where in list(self._open):
            if opened_by is None or self._opened[where] <= opened_by:
                batch = self._open.pop(where)
                if batch.record_count():
                    due.append((where, batch))
        send_batch = self._producer.send_batch
        return [await send_batch(batch, topic, partition=p) for (topic, p), batch in due]

    def _new(self, where: Where) -> Any:
        self._opened[where] = time.monotonic()
        batch = self._open[where] = self._producer.create_batch()
        return batch
