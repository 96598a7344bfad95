"""Events to a Kafka topic: envelopes per partition, sent through one of the producer paths.

A destination is written ``kafka://HOST:PORT/TOPIC``; :class:`KafkaSink` has
the shape of :class:`policysim.simulators.sinks.Sink`, so the pacer that
feeds a file feeds a topic the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from policysim.base.settings import Settings
from policysim.streams.envelopes import Enveloper, Message


class TargetError(ValueError):
    """A ``--to``/``--out`` target that cannot be used."""


@dataclass(frozen=True)
class KafkaTarget:
    bootstrap: str
    topic: str


def parse_kafka_target(text: str) -> KafkaTarget:
    """``kafka://HOST:PORT/TOPIC`` (only loopback hosts are ever used by this project's runs)."""
    if not text.startswith("kafka://"):
        raise TargetError(f"{text!r}: a Kafka target is kafka://HOST:PORT/TOPIC")
    rest = text.removeprefix("kafka://")
    bootstrap, _, topic = rest.partition("/")
    if not bootstrap or not topic or "/" in topic:
        raise TargetError(f"{text!r}: a Kafka target is kafka://HOST:PORT/TOPIC")
    return KafkaTarget(bootstrap, topic)


class KafkaSink:
    """Envelopes per partition, sent through the chosen producer path."""

    def __init__(
        self, settings: Settings, target: KafkaTarget, producer: str, batch: int, linger: float
    ) -> None:
        from policysim.streams.producers import make_producer

        self.events = 0
        self.messages = 0
        self.acknowledged = 0
        self.lost = 0
        self.first_error = ""
        settings = settings.replace(bootstrap=target.bootstrap)
        self.producer = make_producer(producer, settings, target.topic)
        self.batch, self.linger = batch, linger
        self.max_bytes = settings.max_event_bytes
        self.enveloper: Enveloper | None = None

    async def start(self) -> None:
        partitions = await self.producer.start()
        self.enveloper = Enveloper(partitions, self.batch, self.linger, self.max_bytes)

    async def put(self, src: str, value: bytes, sent_at: float) -> None:
        assert self.enveloper is not None
        self.events += 1
        message = self.enveloper.add(src, value, sent_at)
        if message is not None:
            await self._send(message)

    async def _send(self, message: Message) -> None:
        await self.producer.send(message)
        self.messages += 1

    async def tick(self) -> None:
        assert self.enveloper is not None
        for message in self.enveloper.expired(time.monotonic()):
            await self._send(message)
        await self.producer.tick()

    def next_deadline(self) -> float | None:
        return self.enveloper.next_deadline() if self.enveloper else None

    async def close(self) -> None:
        """Send what lingers, wait for the broker to settle every message, count the outcome."""
        try:
            if self.enveloper is not None:
                for message in self.enveloper.drain():
                    await self._send(message)
        finally:
            await self.producer.stop()
            delivery = self.producer.delivery
            self.acknowledged, self.lost = delivery.acknowledged, delivery.lost
            self.first_error = delivery.first_error
