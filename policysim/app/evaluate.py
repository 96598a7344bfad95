"""Evaluate events offline: the loop ``policysim evaluate`` and ``policysim run --offline`` share.

Events are evaluated in batches through :meth:`Engine.evaluate` (the same
path as the stream worker) and written as one verdict per event per policy,
in input order. Inputs that are not valid events go to ``rejects`` with
their reason and are counted, never dropped silently.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from policysim.app.errors import AppError
from policysim.app.loading import load_policies, load_registry
from policysim.app.outputs import output_file
from policysim.base.vocabulary import DECISIONS
from policysim.policies.engine import Engine
from policysim.policies.guarded import evaluate_guarded
from policysim.policies.model import Event, Rejection, decode_event, encode, internal_error
from policysim.report.collect import VerdictSink
from policysim.simulators.logfiles import ReaderError, parse_csv_mapping, read_events
from policysim.simulators.rejects import RejectsFile, default_rejects_path

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """Counts for the summary table (and its JSON form)."""

    events: int = 0
    rejected: int = 0
    labels: list[str] = field(default_factory=list)
    decisions: list[Counter] = field(default_factory=list)
    policies: list[tuple[str, int]] = field(default_factory=list)
    rejects_path: Path | None = None
    registry: str | None = None
    registry_rows_skipped: int = 0

    def as_dict(self) -> dict:
        """The summary for scripts: counts per policy (first enforced), rejects, registry."""
        return {
            "events": self.events,
            "rejected": self.rejected,
            "rejects_file": str(self.rejects_path) if self.rejected and self.rejects_path else None,
            "registry": {"path": self.registry, "rows_skipped": self.registry_rows_skipped},
            "policies": [
                {
                    "policy": name,
                    "version": version,
                    "role": "enforced" if i == 0 else "shadow",
                    **{d: counts[d] for d in DECISIONS},
                    "total": sum(counts.values()),
                }
                for i, ((name, version), counts) in enumerate(
                    zip(self.policies, self.decisions, strict=True)
                )
            ],
        }


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
        policies=[(p.name, p.version) for p in engine.policies],
        decisions=[Counter() for _ in engine.policies],
    )
    batch: list[Event] = []
    line = 0

    def reject(item: Rejection) -> None:
        summary.rejected += 1
        rejects(item)

    def flush(line: int) -> None:
        results, failures = evaluate_guarded(engine, batch)
        for index, exc in failures:
            reject(internal_error(exc, encode(batch[index]), batch[index].id))
        lines = []
        for per_event in zip(*results, strict=True):
            for counts, verdict in zip(summary.decisions, per_event, strict=True):
                counts[verdict.decision] += 1
                lines.append(encode(verdict))
        if lines:
            out.write(b"\n".join(lines) + b"\n")
        summary.events += len(results[0]) if results else 0
        batch.clear()
        progress(line)

    for line, item in items:
        if isinstance(item, Rejection):
            reject(item)
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


def rejects_path_for(out: str, events_file: str, rejects: str | None) -> Path:
    """``rejects``, else beside ``out``; verdicts on stdout put them in the temp folder.

    Never the current folder: a command writes there only when asked to.
    """
    if rejects:
        return output_file(rejects, "--rejects")
    return default_rejects_path(out, events_file)


def evaluate_file(
    policy_paths: Sequence[str],
    registry_path: str | None,
    events_file: str,
    out: str,
    *,
    events_format: str = "auto",
    csv_mapping: str | None = None,
    rejects: str | None = None,
    skip_bad_rows: bool = False,
    batch_size: int = 4096,
    progress: Callable[[int], None] = lambda line: None,
) -> Summary:
    """Evaluate an event file into a verdicts file (``-`` for stdout): ``policysim evaluate``.

    Everything that can be refused (the output paths, the policies, the
    registry, the CSV mapping) is checked before the first event is read.
    """
    out_path = None if out == "-" else output_file(out)
    rejects_path = rejects_path_for(out, events_file, rejects)
    if not Path(events_file).is_file():
        raise AppError(f"--events-file {events_file}: no such file")
    policies = load_policies(policy_paths)
    registry = load_registry(registry_path, skip_bad_rows)
    try:
        mapping = parse_csv_mapping(csv_mapping) if csv_mapping else None
    except ReaderError as exc:
        raise AppError(f"--csv-mapping: {exc}") from exc
    with ExitStack() as stack:
        sink = sys.stdout.buffer if out_path is None else stack.enter_context(out_path.open("wb"))
        rejected = stack.enter_context(RejectsFile(rejects_path))
        try:
            summary = evaluate_stream(
                Engine(policies, registry),
                read_events(events_file, events_format, mapping),
                sink,
                rejected.write,
                batch_size,
                progress,
            )
        except (ReaderError, OSError) as exc:
            raise AppError(f"{events_file}: {exc}") from exc
    summary.rejects_path = rejects_path
    summary.registry = registry_path
    summary.registry_rows_skipped = len(registry.problems)
    return summary


def line_total(path: str, min_bytes: int) -> int | None:
    """Lines in a large plain file (a progress bar's total); None for small or compressed ones."""
    try:
        if Path(path).stat().st_size < min_bytes:
            return None
        with open(path, "rb") as handle:
            if handle.read(2) == b"\x1f\x8b":
                return None
            handle.seek(0)
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None
