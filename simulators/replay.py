"""Replay a recorded log: its inter-arrival gaps (scaled), looping, shifted in time.

The schedule of event ``i`` is its recorded time minus the first event's,
divided by ``speed`` (or ``i / rate`` at a fixed rate); a row recorded out of
order (Zeek logs are not sorted) is simply due at once. Loop ``k`` shifts
every time by ``k`` times the capture's span plus one second, and suffixes
ids with ``~k`` so that they stay unique. Rejections go to a callback as
they are read, so the caller can write and count them while the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec

from policysim.policies.model import Event, Rejection, encode
from policysim.simulators.logfiles import read_events
from policysim.simulators.pacing import Item


@dataclass
class ReplayCounts:
    """Lines read and rejected (events sent are counted by the pump: read = sent + rejected)."""

    read: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class ReplayOptions:
    speed: float = 1.0  # 0 = as fast as possible
    rate: float | None = None  # fixed rate instead of the recorded gaps
    loops: int = 1
    start: float | None = None  # epoch seconds the first event is moved to


def replay_items(
    path: str | Path,
    options: ReplayOptions,
    counts: ReplayCounts,
    on_reject: Callable[[Rejection], None],
    format: str = "auto",
    csv_mapping: Mapping[str, str] | None = None,
) -> Iterator[Item]:
    """The log's events, transformed and scheduled, as pump items."""
    if options.loops < 1:
        raise ValueError("--loop must be at least 1")
    if options.speed < 0:
        raise ValueError("--speed must be >= 0")
    first: float | None = None
    shift = 0.0
    low, high = float("inf"), float("-inf")
    sent = 0
    for loop in range(options.loops):
        period = (high - low + 1.0) if high >= low else 0.0
        for _, item in read_events(path, format, csv_mapping):
            counts.read += 1
            if isinstance(item, Rejection):
                counts.rejected += 1
                on_reject(item)
                continue
            ts = float(item.ts)
            if first is None:
                first = ts
                shift = 0.0 if options.start is None else options.start - ts
            if loop == 0:
                low, high = min(low, ts), max(high, ts)
            event = _moved(item, ts + shift + loop * period, loop)
            yield _offset(options, sent, float(event.ts) - first - shift), item.src, encode(event)
            sent += 1


def _moved(event: Event, ts: float, loop: int) -> Event:
    event_id = event.id if loop == 0 else f"{event.id}~{loop}"
    return msgspec.structs.replace(event, ts=round(ts, 6), id=event_id)


def _offset(options: ReplayOptions, index: int, since_first: float) -> float | None:
    if options.rate:
        return index / options.rate
    if options.speed == 0:
        return None
    return max(since_first, 0.0) / options.speed
