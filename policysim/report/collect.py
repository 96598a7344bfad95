"""Verdicts into a report: the sink both the offline evaluator and the verdicts topic feed.

Both feed a :class:`~policysim.report.builder.ReportBuilder` through
:class:`VerdictSink`, a binary sink for verdict JSON lines: the offline path
hands it to ``policysim evaluate``'s own loop, so the report's offline numbers
come from exactly the code that command runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import IO

import msgspec

from policysim.policies.model import Verdict
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
