"""Three ways to put messages on a Kafka topic, behind one small async interface.

Measured into the embedded broker (README, bench-produce), the paths differ by
an order of magnitude, so the load generator defaults to the fastest and the
others stay as options for comparison and for clients that need them:

* ``kafka-python``: the project's administrative client; a sync producer
  (its checksums use the ``crc32c`` C extension when installed);
* ``aiokafka``: one ``send`` per message, batched by aiokafka's accumulator;
* ``aiokafka-batch``: aiokafka's ``create_batch``/``send_batch``, one record
  batch per partition filled by us, which skips the per-message bookkeeping.

Every message carries the header ``sent_at`` (epoch seconds as ASCII text)
from which the worker measures end-to-end latency. Partitions are chosen by
the caller (see :mod:`policysim.streams.envelopes`), so one source address stays on
one partition whichever path is used.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from typing import Any

from policysim.base.settings import Settings
from policysim.streams.kafka_config import aiokafka_kwargs, kafka_python_kwargs

log = logging.getLogger(__name__)

SENT_AT_HEADER = "sent_at"
MAX_BATCH_BYTES = 1 << 20


def sent_at_value(sent_at: float) -> bytes:
    """The header value: epoch seconds as ASCII decimal text (microseconds)."""
    return f"{sent_at:.6f}".encode("ascii")


class Producer(ABC):
    """A started producer for one topic; messages go to explicit partitions."""

    name = ""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.messages = 0

    @abstractmethod
    async def start(self) -> int:
        """Connect and return the topic's partition count."""

    @abstractmethod
    async def send(self, partition: int, key: bytes | None, value: bytes, sent_at: float) -> None:
        """Queue one message (delivery is confirmed by :meth:`stop`)."""

    async def tick(self, force: bool = False) -> None:  # noqa: B027 - optional hook
        """Ship what has been held back ``linger`` or longer (everything if ``force``)."""

    @abstractmethod
    async def stop(self) -> None:
        """Deliver everything queued, raise on a delivery failure, close."""


class KafkaPythonProducer(Producer):
    """kafka-python's ``KafkaProducer`` (synchronous; sends are buffered by its own thread)."""

    name = "kafka-python"

    async def start(self) -> int:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(
            client_id="policysim-producer",
            acks=1,
            enable_idempotence=False,
            linger_ms=self.settings.linger_ms,
            batch_size=MAX_BATCH_BYTES,
            max_request_size=4 * MAX_BATCH_BYTES,
            **kafka_python_kwargs(self.settings),
        )
        partitions = await asyncio.to_thread(self._partitions)
        self._failures: list[BaseException] = []
        return partitions

    def _partitions(self) -> int:
        found = self._producer.partitions_for(self.topic)
        if not found:
            raise RuntimeError(f"topic {self.topic!r} does not exist")
        return len(found)

    async def send(self, partition: int, key: bytes | None, value: bytes, sent_at: float) -> None:
        future = self._producer.send(
            self.topic,
            value=value,
            key=key,
            partition=partition,
            headers=[(SENT_AT_HEADER, sent_at_value(sent_at))],
        )
        future.add_errback(self._failures.append)
        self.messages += 1

    async def stop(self) -> None:
        await asyncio.to_thread(self._producer.flush)
        await asyncio.to_thread(self._producer.close)
        if self._failures:
            raise RuntimeError(f"{len(self._failures)} messages failed: {self._failures[0]!r}")


class _AioProducer(Producer):
    """Shared start/stop of the two aiokafka paths."""

    async def start(self) -> int:
        from aiokafka import AIOKafkaProducer

        self._producer = AIOKafkaProducer(
            client_id="policysim-producer",
            acks=1,
            linger_ms=self.settings.linger_ms,
            max_batch_size=MAX_BATCH_BYTES,
            max_request_size=4 * MAX_BATCH_BYTES,
            **aiokafka_kwargs(self.settings),
        )
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()
            raise
        self._pending: set[asyncio.Future[Any]] = set()
        self._failures: list[BaseException] = []
        partitions = await self._producer.partitions_for(self.topic)
        if not partitions:
            await self._producer.stop()
            raise RuntimeError(f"topic {self.topic!r} does not exist")
        return len(partitions)

    def _track(self, future: asyncio.Future[Any]) -> None:
        """Keep a delivery future until it settles; remember failures for :meth:`stop`."""
        self._pending.add(future)
        future.add_done_callback(self._settled)

    def _settled(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            self._failures.append(future.exception())

    async def stop(self) -> None:
        await self.tick(force=True)
        try:
            await asyncio.gather(*self._pending, return_exceptions=True)
        finally:
            await self._producer.stop()
        if self._failures:
            raise RuntimeError(f"{len(self._failures)} sends failed: {self._failures[0]!r}")


class AioKafkaProducer(_AioProducer):
    """aiokafka, one ``send`` per message."""

    name = "aiokafka"

    async def send(self, partition: int, key: bytes | None, value: bytes, sent_at: float) -> None:
        future = await self._producer.send(
            self.topic,
            value=value,
            key=key,
            partition=partition,
            headers=[(SENT_AT_HEADER, sent_at_value(sent_at))],
        )
        self._track(future)
        self.messages += 1


class AioKafkaBatchProducer(_AioProducer):
    """aiokafka's batch API: we fill one record batch per partition and submit it whole."""

    name = "aiokafka-batch"

    async def start(self) -> int:
        partitions = await super().start()
        self._open: dict[int, Any] = {}
        self._opened: dict[int, float] = {}
        return partitions

    async def send(self, partition: int, key: bytes | None, value: bytes, sent_at: float) -> None:
        headers = [(SENT_AT_HEADER, sent_at_value(sent_at))]
        batch = self._open.get(partition) or self._new_batch(partition)
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            await self._ship(partition)
            batch = self._new_batch(partition)
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                raise ValueError(f"a message of {len(value)} bytes exceeds the batch size")
        self.messages += 1

    def _new_batch(self, partition: int) -> Any:
        self._opened[partition] = time.monotonic()
        batch = self._open[partition] = self._producer.create_batch()
        return batch

    async def _ship(self, partition: int) -> None:
        batch = self._open.pop(partition)
        future = await self._producer.send_batch(batch, self.topic, partition=partition)
        self._track(future)

    async def tick(self, force: bool = False) -> None:
        """Ship the batches that are older than ``linger`` (all of them if ``force``)."""
        oldest = time.monotonic() - self.settings.linger_ms / 1000.0
        for partition, batch in list(self._open.items()):
            if batch.record_count() and (force or self._opened[partition] <= oldest):
                await self._ship(partition)


PRODUCERS: dict[str, type[Producer]] = {
    p.name: p for p in (AioKafkaBatchProducer, AioKafkaProducer, KafkaPythonProducer)
}
DEFAULT_PRODUCER = AioKafkaBatchProducer.name


def make_producer(name: str, settings: Settings, topic: str) -> Producer:
    """A producer of the named path (``aiokafka-batch``, ``aiokafka`` or ``kafka-python``)."""
    try:
        return PRODUCERS[name](settings, topic)
    except KeyError:
        raise ValueError(f"unknown producer {name!r}; choose from {', '.join(PRODUCERS)}") from None
