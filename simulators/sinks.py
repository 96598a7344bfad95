"""Where generated or replayed events go: a JSON-lines file, memory, or a Kafka topic.

A target is written ``FILE`` or ``kafka://HOST:PORT/TOPIC``. Files get one
event per line (what ``policysim evaluate`` reads); Kafka gets envelopes
(:mod:`simulators.envelopes`) through one of :mod:`streams.producers`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from policysim.settings import Settings
from simulators.envelopes import Enveloper


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


class Sink(ABC):
    """Takes events one by one; counts events and messages."""

    def __init__(self) -> None:
        self.events = 0
        self.messages = 0

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open the destination."""

    @abstractmethod
    async def put(self, src: str, value: bytes, sent_at: float) -> None:
        """Take one event (JSON bytes) with its scheduled send time (epoch seconds)."""

    async def tick(self) -> None:  # noqa: B027 - optional hook
        """Let lingering envelopes out (called often while running and while waiting)."""

    def next_deadline(self) -> float | None:
        """Monotonic time by which :meth:`tick` must run again, if something lingers."""
        return None

    @abstractmethod
    async def close(self) -> None:
        """Deliver everything and close."""


class MemorySink(Sink):
    """Keeps events and their stamps (tests, and measuring the pacer without I/O)."""

    def __init__(self, clock=time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.items: list[tuple[float, float, bytes]] = []  # (sent_at, monotonic at put, value)

    async def put(self, src: str, value: bytes, sent_at: float) -> None:
        self.items.append((sent_at, self.clock(), value))
        self.events += 1
        self.messages += 1

    async def close(self) -> None:
        return None


class FileSink(Sink):
    """One event per line, in order."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._handle: IO[bytes] | None = None

    async def start(self) -> None:
        self._handle = self.path.open("wb", buffering=1 << 20)

    async def put(self, src: str, value: bytes, sent_at: float) -> None:
        assert self._handle is not None
        self._handle.write(value + b"\n")
        self.events += 1
        self.messages += 1

    async def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class KafkaSink(Sink):
    """Envelopes per partition, sent through the chosen producer path."""

    def __init__(
        self, settings: Settings, target: KafkaTarget, producer: str, batch: int, linger: float
    ) -> None:
        from streams.producers import make_producer

        super().__init__()
        settings = settings.replace(bootstrap=target.bootstrap)
        self.producer = make_producer(producer, settings, target.topic)
        self.batch, self.linger = batch, linger
        self.enveloper: Enveloper | None = None

    async def start(self) -> None:
        partitions = await self.producer.start()
        self.enveloper = Enveloper(partitions, self.batch, self.linger)

    async def put(self, src: str, value: bytes, sent_at: float) -> None:
        assert self.enveloper is not None
        self.events += 1
        message = self.enveloper.add(src, value, sent_at)
        if message is not None:
            await self._send(message)

    async def _send(self, message) -> None:
        await self.producer.send(message.partition, message.key, message.value, message.sent_at)
        self.messages += 1

    async def tick(self) -> None:
        assert self.enveloper is not None
        for message in self.enveloper.expired(time.monotonic()):
            await self._send(message)
        await self.producer.tick()

    def next_deadline(self) -> float | None:
        return self.enveloper.next_deadline() if self.enveloper else None

    async def close(self) -> None:
        if self.enveloper is not None:
            for message in self.enveloper.drain():
                await self._send(message)
        await self.producer.stop()


def open_sink(
    out: str | None,
    to: str | None,
    settings: Settings,
    producer: str,
    batch: int,
    linger_ms: float,
) -> Sink:
    """The sink for ``--out FILE`` or ``--to kafka://HOST:PORT/TOPIC`` (exactly one)."""
    if bool(out) == bool(to):
        raise TargetError("give exactly one of --out FILE and --to kafka://HOST:PORT/TOPIC")
    if out:
        return FileSink(out)
    assert to is not None
    return KafkaSink(settings, parse_kafka_target(to), producer, batch, linger_ms / 1000.0)
