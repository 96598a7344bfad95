"""Three ways to put messages on a Kafka topic, behind one small async interface.

Measured into the embedded broker (README, bench-produce), the paths differ by
an order of magnitude, so the load generator defaults to the fastest and the
others stay as options for comparison and for clients that need them:

* ``kafka-python``: the project's administrative client; a sync producer
  (its checksums use the ``crc32c`` C extension when installed);
* ``aiokafka``: one ``send`` per message, batched by aiokafka's accumulator;
* ``aiokafka-batch``: aiokafka's ``create_batch``/``send_batch``, one record
  batch per partition filled by us (:mod:`policysim.streams.record_batches`),
  which skips the per-message bookkeeping.

Every message carries the ``sent_at`` header (:mod:`policysim.streams.headers`)
from which the worker measures end-to-end latency. Partitions are chosen by
the caller (see :mod:`policysim.streams.envelopes`), so one source address
stays on one partition whichever path is used. Every path first waits for the
broker (:func:`policysim.streams.connect.wait_for_broker`), at most a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from policysim.base.settings import Settings
from policysim.streams.connect import TopicMissing, wait_for_broker
from policysim.streams.envelopes import partition_of
from policysim.streams.headers import SENT_AT_HEADER, time_value
from policysim.streams.kafka_config import aiokafka_kwargs, kafka_python_kwargs

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 1 << 20


def _headers(sent_at: float) -> list[tuple[str, bytes]]:
    return [(SENT_AT_HEADER, time_value(sent_at))]


class Producer(ABC):
    """A started producer for one topic; messages go to explicit partitions."""

    name = ""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.messages = 0

    async def start(self) -> int:
        """Wait for the broker, connect and return the topic's partition count.

        Raises :class:`~policysim.streams.connect.BrokerUnreachable` when no
        broker answers and :class:`~policysim.streams.connect.TopicMissing`
        when the topic does not exist.
        """
        await asyncio.to_thread(wait_for_broker, self.settings)
        return await self._connect()

    @abstractmethod
    async def _connect(self) -> int:
        """Open the client; return the topic's partition count."""

    def _missing(self) -> TopicMissing:
        return TopicMissing(f"topic {self.topic!r} does not exist at {self.settings.bootstrap}")

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

    async def _connect(self) -> int:
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
        self._failures: list[BaseException] = []
        return await asyncio.to_thread(self._partitions)

    def _partitions(self) -> int:
        found = self._producer.partitions_for(self.topic)
        if not found:
            self._producer.close()
            raise self._missing()
        return len(found)

    async def send(self, partition: int, key: bytes | None, value: bytes, sent_at: float) -> None:
        future = self._producer.send(
            self.topic, value=value, key=key, partition=partition, headers=_headers(sent_at)
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

    async def _connect(self) -> int:
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
            raise self._missing()
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
            self.topic, value=value, key=key, partition=partition, headers=_headers(sent_at)
        )
        self._track(future)
        self.messages += 1


class AioKafkaBatchProducer(_AioProducer):
    """aiokafka's batch API: we fill one record batch per partition and submit it whole."""

    name = "aiokafka-batch"

    async def _connect(self) -> int:
        from policysim.streams.record_batches import PartitionBatches

        partitions = await super()._connect()
        self._batches = PartitionBatches(self._producer)
        return partitions

    async def send(self, partition: int, key: bytes | None, value: bytes, sent_at: float) -> None:
        self._batches.append(self.topic, partition, key, value, _headers(sent_at))
        if self._batches.has_full:
            await self._ship(float("-inf"))
        self.messages += 1

    async def _ship(self, opened_by: float | None) -> None:
        for future in await self._batches.ship(opened_by):
            self._track(future)

    async def tick(self, force: bool = False) -> None:
        """Ship the batches that are older than ``linger`` (all of them if ``force``)."""
        await self._ship(None if force else time.monotonic() - self.settings.linger_ms / 1000.0)


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


async def publish(
    settings: Settings,
    topic: str,
    keyed: Iterable[tuple[str, bytes]],
    producer: str = DEFAULT_PRODUCER,
) -> int:
    """Send ``(key, value)`` messages to ``topic`` and wait until the broker has them all.

    A key always lands on the same partition (as :func:`partition_of` places
    event sources), so the messages of one key stay in order. Returns how many
    were sent.
    """
    sender = make_producer(producer, settings, topic)
    partitions = await sender.start()
    try:
        for key, value in keyed:
            await sender.send(partition_of(key, partitions), key.encode(), value, time.time())
    finally:
        await sender.stop()
    return sender.messages
