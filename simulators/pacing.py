"""Open-loop pacing: each event has a scheduled send time fixed by the clock.

The schedule never depends on when the previous send returned: if the sink
stalls, the events that fell due meanwhile go out as soon as it recovers, and
each keeps its *scheduled* time as its ``sent_at`` stamp. A slow consumer (or
a slow producer) therefore shows up as latency instead of silently lowering
the offered rate, which is the coordinated-omission trap of closed-loop
load generators.

An item is ``(offset, src, value)``: ``offset`` seconds after the start, or
``None`` for "as fast as possible" (stamped with the clock as last read,
at most ``CHUNK`` events earlier). The achieved rate of every second is kept
in the result (and logged at DEBUG: a progress bar shows it to people), and a
progress callback is called as events go out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field

from policysim.simulators.sinks import Sink

log = logging.getLogger(__name__)

Item = tuple[float | None, str, bytes]
# Events between yields to the event loop, which let producers' I/O run and lingering envelopes
# go out while the schedule is behind. 1,024 held envelopes back for 50 ms at 20,000 events/s and
# halved the rate of envelopes sent as fast as possible (50,000 against 126,000 events/s with 128;
# one event per message within noise).
CHUNK = 128
MAX_SLEEP = 0.05


@dataclass
class PumpResult:
    """What a run did: counts, elapsed seconds and the achieved rate of each full second.

    ``events`` were sent; of them ``acknowledged`` were taken by the destination
    and ``lost`` were not (a broker that failed or restarted empty; the cause in
    ``first_error``). They are set once the sink is closed (:func:`send_all`).
    """

    events: int = 0
    messages: int = 0
    elapsed: float = 0.0
    per_second: list[float] = field(default_factory=list)
    acknowledged: int = 0
    lost: int = 0
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.elapsed if self.elapsed > 0 else 0.0


def at_rate(items: Iterable[tuple[str, bytes]], rate: float | None) -> Iterator[Item]:
    """Schedule ``items`` evenly at ``rate`` per second (None: as fast as possible)."""
    if rate is None or rate <= 0:
        for src, value in items:
            yield None, src, value
        return
    interval = 1.0 / rate
    for i, (src, value) in enumerate(items):
        yield i * interval, src, value


class _Meter:
    """Counts events per wall-clock second (logged at DEBUG, kept for the result)."""

    def __init__(self, start: float, target: float | None) -> None:
        self.mark = start
        self.count = 0
        self.target = target
        self.per_second: list[float] = []

    def observe(self, now: float, events: int) -> None:
        self.count += events
        while now - self.mark >= 1.0:
            self.per_second.append(float(self.count))
            target = f" (target {self.target:,.0f})" if self.target else ""
            log.debug("achieved %s events/s%s", f"{self.count:,}", target)
            self.count = 0
            self.mark += 1.0


async def pump(
    items: Iterable[Item],
    sink: Sink,
    *,
    target_rate: float | None = None,
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> PumpResult:
    """Send ``items`` to a started ``sink`` on their schedule; the caller closes the sink."""
    start, wall_start = clock(), wall()
    meter = _Meter(start, target_rate)
    sent = since_report = 0
    now = start  # the last clock reading: an event due before it is due now, no new reading
    put = sink.put
    for offset, src, value in items:
        if offset is None:
            stamp = wall_start + (now - start)
        else:
            due = start + offset
            if due > now:
                now = clock()
            while due > now:
                await sink.tick()
                wake = min(due, sink.next_deadline() or due, now + MAX_SLEEP)
                await sleep(max(wake - now, 0.0))
                now = clock()
            stamp = wall_start + offset
        await put(src, value, stamp)
        sent += 1
        since_report += 1
        if since_report >= CHUNK or now - meter.mark >= 1.0:
            now = clock()
            await _checkpoint(sink, meter, now, since_report, progress)
            since_report = 0
    await _checkpoint(sink, meter, clock(), since_report, progress)
    elapsed = clock() - start
    return PumpResult(sent, sink.messages, elapsed, meter.per_second)


async def send_all(
    items: Iterable[Item],
    sink: Sink,
    *,
    target_rate: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> PumpResult:
    """Start ``sink``, pump ``items`` into it on schedule, and close it (also on failure).

    The result counts the messages the sink wrote, envelopes included, and the
    events the destination acknowledged and lost.
    """
    await sink.start()
    try:
        result = await pump(items, sink, target_rate=target_rate, progress=progress)
    finally:
        await sink.close()
    result.messages = sink.messages
    result.acknowledged, result.lost, result.first_error = (
        sink.acknowledged,
        sink.lost,
        sink.first_error,
    )
    return result


async def _checkpoint(
    sink: Sink,
    meter: _Meter,
    now: float,
    count: int,
    progress: Callable[[int], None] | None,
) -> None:
    await sink.tick()
    meter.observe(now, count)
    if progress is not None:
        progress(count)
    await asyncio.sleep(0)
