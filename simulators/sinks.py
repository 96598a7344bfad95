"""Where generated or replayed events go without a broker: a JSON-lines file or memory.

:class:`Sink` is the shape every destination has, the Kafka one in
:mod:`policysim.streams.kafka_sink` included: the pacer drives any of them
without knowing which it is.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO, Protocol


class Sink(Protocol):
    """Takes events one by one; counts events and messages, and what the destination took.

    ``acknowledged`` and ``lost`` are final after :meth:`close`: a file or
    memory takes every event it is given; a broker acknowledges them, or not.
    ``first_error`` says why the first lost event was lost.
    """

    events: int
    messages: int
    acknowledged: int
    lost: int
    first_error: str

    async def start(self) -> None:
        """Open the destination."""

    async def put(self, src: str, value: bytes, sent_at: float) -> None:
        """Take one event (JSON bytes) with its scheduled send time (epoch seconds)."""

    async def tick(self) -> None:
        """Let lingering envelopes out (called often while running and while waiting)."""

    def next_deadline(self) -> float | None:
        """Monotonic time by which :meth:`tick` must run again, if something lingers."""

    async def close(self) -> None:
        """Deliver everything and close."""


class _Unbatched:
    """What file and memory sinks share: no envelopes, so nothing lingers."""

    def __init__(self) -> None:
        self.events = 0
        self.messages = 0
        self.lost = 0
        self.first_error = ""

    @property
    def acknowledged(self) -> int:
        return self.events

    async def start(self) -> None:
        return None

    async def tick(self) -> None:
        return None

    def next_deadline(self) -> float | None:
        return None


class MemorySink(_Unbatched):
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


class FileSink(_Unbatched):
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
