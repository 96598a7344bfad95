"""Verdict sources for a report: the offline evaluator, or the verdicts topic.

Both feed a :class:`~policysim.report.builder.ReportBuilder` through
:class:`VerdictSink`, a binary sink for verdict JSON lines: the offline path
hands it to ``policysim evaluate``'s own loop, so the report's offline numbers
come from exactly the code that command runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import IO

import msgspec

from policies.engine import Engine
from policies.model import Event, Rejection, Verdict, decode_event
from policysim.commands.evaluate import evaluate_stream
from policysim.report.builder import ReportBuilder

log = logging.getLogger(__name__)

_decode_verdict = msgspec.json.Decoder(Verdict).decode


class VerdictSink:
    """Takes verdict JSON lines (as ``write`` calls of any size) and folds each into a builder.

    ``keep`` also gets the lines unchanged (the run's verdicts file);
    ``counted`` is told how many verdicts each write held (the progress bar).
    """

    def __init__(
        self,
        builder: ReportBuilder,
        keep: IO[bytes] | None = None,
        counted: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.builder = builder
        self.keep = keep
        self.counted = counted
        self._tail = b""
        self.received = 0

    def write(self, data: bytes) -> int:
        if self.keep is not None:
            self.keep.write(data)
        lines = (self._tail + data).split(b"\n")
        self._tail = lines.pop()
        n = 0
        for line in lines:
            if line.strip():
                self.add(_decode_verdict(line))
                n += 1
        self.counted(n)
        return len(data)

    def add(self, verdict: Verdict) -> None:
        """Fold one decoded verdict (the Kafka path hands them over already decoded)."""
        self.builder.add(verdict)
        self.received += 1


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
    """Evaluate event lines with ``policysim evaluate``'s loop; returns (events, rejected)."""

    def reject(item: Rejection) -> None:
        log.warning("%s: rejected (%s): %s", item.source, item.reason, item.detail)

    summary = evaluate_stream(engine, numbered_events(events), sink, reject, batch_size, on_events)
    return summary.events, summary.rejected
