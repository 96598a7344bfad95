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

Every path counts what the broker acknowledged, from the delivery futures it
already holds (one per message, or one per record batch weighed by its
events): :attr:`Producer.delivery` says how many events were sent, how many
were acknowledged and how many were lost, so a broker that died mid-run shows
as a loss, never as plain success. A broker that comes back empty (the
embedded one keeps nothing) acknowledges the next message of a partition at
an offset below the last one: the events it had acknowledged on that
partition before are then counted as lost to the restart.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError as AioKafkaError
from kafka.errors import KafkaError as KafkaPythonError

from policysim.base.settings import Settings
from policysim.streams.connect import TopicMissing, wait_for_broker
from policysim.streams.envelopes import Message, partition_of
from policysim.streams.headers import SENT_AT_HEADER, time_value
from policysim.streams.kafka_config import aiokafka_kwargs, kafka_python_kwargs

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 1 << 20


def _headers(sent_at: float) -> list[tuple[str, bytes]]:
    return [(SENT_AT_HEADER, time_value(sent_at))]


@dataclass(frozen=True)
class Delivery:
    """Events handed to the producer, acknowledged by the broker, and lost (with the first cause).

    ``sent - acknowledged - lost`` is what was still unsettled when asked
    (0 after :meth:`Producer.stop`).
    """

    sent: int = 0
    acknowledged: int = 0
    lost: int = 0
    first_error: str = ""


class Producer(ABC):
    """A started producer for one topic; messages go to explicit partitions."""

    name = ""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.messages = 0
        self.events = 0
        # Settled events, updated by delivery callbacks (kafka-python's run in its one
        # I/O thread, aiokafka's in the event loop), so each partition's acks come in order.
        self._acked: dict[int, int] = {}  # partition -> events acknowledged since its last reset
        self._offset: dict[int, int] = {}  # partition -> offset of its last acknowledgement
        self._lost = 0
        self.resets = 0  # partitions seen to start again at a lower offset (broker restarts)
        self._failures: list[BaseException] = []

    @property
    def delivery(self) -> Delivery:
        """What was sent, acknowledged and lost so far (final after :meth:`stop`)."""
        error = repr(self._failures[0]) if self._failures else ""
        if not error and self.resets:
            error = "the broker restarted empty"
        return Delivery(self.events, sum(self._acked.values()), self._lost, error)

    def _acknowledged(self, weight: int, partition: int, offset: int) -> None:
        """Count one message's (or batch's) events as taken by the broker at ``offset``."""
        if offset < self._offset.get(partition, -1):
            if not self.resets:
                log.warning(
                    "%s partition %s starts again at offset %s: the broker lost what it had",
                    self.topic,
                    partition,
                    offset,
                )
            self.resets += 1
            self._lost += self._acked.pop(partition, 0)
        self._offset[partition] = offset
        self._acked[partition] = self._acked.get(partition, 0) + weight

    def _failed(self, weight: int, error: BaseException) -> None:
        """Count one message's (or batch's) events as lost."""
        self._lost += weight
        if not self._failures:
            log.warning("the broker did not take %s events: %r", weight, error)
        self._failures.append(error)

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
    async def send(self, message: Message) -> None:
        """Queue one message (delivery is settled by :meth:`stop`).

        A producer that holds messages back to batch them counts ``linger`` from the message's
        ``opened``, when its first event started waiting for its envelope.
        """

    async def tick(self, force: bool = False) -> None:  # noqa: B027 - optional hook
        """Ship what has been held back ``linger`` or longer (everything if ``force``)."""

    @abstractmethod
    async def stop(self) -> None:
        """Deliver everything queued and close; failed deliveries count in :attr:`delivery`."""


class KafkaPythonProducer(Producer):
    """kafka-python's ``KafkaProducer`` (synchronous; sends are buffered by its own thread)."""

    name = "kafka-python"

    async def _connect(self) -> int:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(
            client_id="policysim-producer",
            acks=self.settings.producer_acks,
            enable_idempotence=False,
            linger_ms=self.settings.linger_ms,
            batch_size=MAX_BATCH_BYTES,
            max_request_size=4 * MAX_BATCH_BYTES,
            **kafka_python_kwargs(self.settings),
        )
        return await asyncio.to_thread(self._partitions)

    def _partitions(self) -> int:
        found = self._producer.partitions_for(self.topic)
        if not found:
            self._producer.close()
            raise self._missing()
        return len(found)

    async def send(self, message: Message) -> None:
        events = message.events
        self.messages += 1
        self.events += events
        try:
            future = self._producer.send(
                self.topic,
                value=message.value,
                key=message.key,
                partition=message.partition,
                headers=_headers(message.sent_at),
            )
        except KafkaPythonError as exc:
            self._failed(events, exc)
            return
        future.add_callback(lambda meta: self._acknowledged(events, meta.partition, meta.offset))
        future.add_errback(lambda error: self._failed(events, error))

    async def stop(self) -> None:
        await asyncio.to_thread(self._producer.flush)
        await asyncio.to_thread(self._producer.close)


class _AioProducer(Producer):
    """Shared start/stop of the two aiokafka paths."""

    # Whether this path holds messages back itself (``tick``); aiokafka's own linger then stays 0,
    # since its accumulator would hold every batch submitted to it for ``linger_ms`` once more.
    lingers_itself = False

    async def _connect(self) -> int:
        from aiokafka import AIOKafkaProducer

        self._producer = AIOKafkaProducer(
            client_id="policysim-producer",
            acks=self.settings.producer_acks,
            linger_ms=0 if self.lingers_itself else self.settings.linger_ms,
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
        partitions = await self._producer.partitions_for(self.topic)
        if not partitions:
            await self._producer.stop()
            raise self._missing()
        return len(partitions)

    def _track(self, future: asyncio.Future[Any], weight: int) -> None:
        """Keep a delivery future until it settles; then count its events."""
        self._pending.add(future)
        future.add_done_callback(functools.partial(self._done, weight))

    def _done(self, weight: int, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if future.cancelled():
            self._failed(weight, asyncio.CancelledError())
        elif future.exception() is not None:
            self._failed(weight, future.exception())
        else:
            meta = future.result()
            self._acknowledged(weight, meta.partition, meta.offset)

    async def stop(self) -> None:
        try:
            await self.tick(force=True)
        except AioKafkaError as exc:
            log.debug("could not ship the last batches: %r", exc)
        try:
            await asyncio.gather(*self._pending, return_exceptions=True)
        finally:
            await self._producer.stop()


class AioKafkaProducer(_AioProducer):
    """aiokafka, one ``send`` per message."""

    name = "aiokafka"

    async def send(self, message: Message) -> None:
        self.messages += 1
        self.events += message.events
        try:
            future = await self._producer.send(
                self.topic,
                value=message.value,
                key=message.key,
                partition=message.partition,
                headers=_headers(message.sent_at),
            )
        except AioKafkaError as exc:
            self._failed(message.events, exc)
            return
        self._track(future, message.events)


class AioKafkaBatchProducer(_AioProducer):
    """aiokafka's batch API: we fill one record batch per partition and submit it whole."""

    name = "aiokafka-batch"
    lingers_itself = True

    async def _connect(self) -> int:
        from policysim.streams.record_batches import PartitionBatches

        partitions = await super()._connect()
        self._batches = PartitionBatches(self._producer)
        return partitions

    async def send(self, message: Message) -> None:
        self._batches.append(
            self.topic,
            message.partition,
            message.key,
            message.value,
            _headers(message.sent_at),
            weight=message.events,
            opened=message.opened,
        )
        self.messages += 1
        self.events += message.events
        if self._batches.has_full:
            await self._ship(float("-inf"))

    async def _ship(self, opened_by: float | None) -> None:
        for future, weight in await self._batches.ship_weighted(opened_by):
            self._track(future, weight)

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
) -> Delivery:
    """Send ``(key, value)`` messages to ``topic`` and wait until the broker settled them all.

    A key always lands on the same partition (as :func:`partition_of` places
    event sources), so the messages of one key stay in order. Returns how many
    were sent, acknowledged and lost.
    """
    sender = make_producer(producer, settings, topic)
    partitions = await sender.start()
    try:
        for key, value in keyed:
            partition = partition_of(key, partitions)
            await sender.send(Message(partition, key.encode(), value, time.time(), 1))
    finally:
        await sender.stop()
    return sender.delivery
