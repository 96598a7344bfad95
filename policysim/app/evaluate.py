"""Evaluate events offline: the loop ``policysim evaluate`` and ``policysim run --offline`` share.

Events are evaluated in batches through :meth:`Engine.evaluate` (the same
path as the stream worker) and written as one verdict per event per policy,
in input order. Inputs that are not valid events go to ``rejects`` with
their reason and are counted, never dropped silently.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from policysim.policies.engine import Engine
from policysim.policies.model import Event, Rejection, decode_event, encode
from policysim.report.collect import VerdictSink

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """Counts for the summary table."""

    events: int = 0
    rejected: int = 0
    labels: list[str] = field(default_factory=list)
    decisions: list[Counter] = field(default_factory=list)


def evaluate_stream(
    engine: Engine,
    items: Iterable[tuple[int, Event | Rejection]],
    out: IO[bytes],
    rejects: Callable[[Rejection], None],
    batch_size: int,
    progress: Callable[[int], None] = lambda line: None,
) -> Summary:
    """Evaluate ``items`` in batches; verdicts go to ``out``, rejections to ``rejects``."""
    summary = Summary(
        labels=[f"{p.name} v{p.version}" for p in engine.policies],
        decisions=[Counter() for _ in engine.policies],
    )
    batch: list[Event] = []
    line = 0

    def flush(line: int) -> None:
        results = engine.evaluate(batch)
        lines = []
        for per_event in zip(*results, strict=True):
            for counts, verdict in zip(summary.decisions, per_event, strict=True):
                counts[verdict.decision] += 1
                lines.append(encode(verdict))
        out.write(b"\n".join(lines) + b"\n")
        summary.events += len(batch)
        batch.clear()
        progress(line)

    for line, item in items:
        if isinstance(item, Rejection):
            summary.rejected += 1
            rejects(item)
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            flush(line)
    if batch:
        flush(line)
    progress(line)
    return summary


def numbered_events(lines: Iterable[bytes]) -> Iterator[tuple[int, Event | Rejection]]:
    """Event JSON lines as ``(line number, event or rejection)``, like ``read_events``."""
    for number, raw in enumerate(lines, 1):
        yield number, decode_event(raw, f"event {number}")


def evaluate_offline(
    engine: Engine,
    events: Iterable[bytes],
    sink: VerdictSink,
    batch_size: int,
    on_events: Callable[[int], None] = lambda n: None,
) -> tuple[int, int]:
    """Evaluate event lines into a report's verdict sink; returns (events, rejected)."""

    def reject(item: Rejection) -> None:
        log.warning("%s: rejected (%s): %s", item.source, item.reason, item.detail)

    summary = evaluate_stream(engine, numbered_events(events), sink, reject, batch_size, on_events)
    return summary.events, summary.rejected
