"""``policysim evaluate``: offline evaluation of an event file against one or more policies.

Events are read by :func:`simulators.readers.read_events` (JSON lines, CSV,
Zeek TSV or Zeek JSON), evaluated in batches through
:meth:`policies.engine.Engine.evaluate` — the same path as the stream worker —
and written as one verdict per event per policy, in input order. Inputs that
are not valid events go to the rejects file with their reason and are counted
in the summary, never dropped silently.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from policies.engine import Engine
from policies.model import DECISIONS, Event, Rejection, encode
from policysim.commands.policy import LoadError, load_policies, load_registry
from policysim.settings import Settings
from simulators.readers import FORMATS, ReaderError, parse_csv_mapping, read_events
from simulators.rejects import RejectsFile, default_rejects_path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    parser = sub.add_parser(
        "evaluate",
        help="evaluate an event file (JSONL, CSV, Zeek) against policies, write verdicts",
        description="One verdict per event per policy, in input order; a summary on stderr."
        " The first --policy is the enforced one, the others are shadows.",
    )
    parser.add_argument("--policy", action="append", required=True, help="policy file (repeat)")
    parser.add_argument("--registry", required=True, help="registry CSV or JSON lines")
    parser.add_argument("--events", required=True, help="event file (gzip is recognised)")
    parser.add_argument("--format", choices=FORMATS, default="auto", help="input format")
    parser.add_argument(
        "--csv-mapping", help="CSV columns as field=column,field=column (default: field names)"
    )
    parser.add_argument("--out", required=True, help="verdicts, JSON lines ('-' for stdout)")
    parser.add_argument(
        "--rejects", help="rejected inputs, JSON lines (default: OUT with .rejects.jsonl)"
    )
    parser.set_defaults(handler=run)


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


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        policies = load_policies(args.policy)
        registry = load_registry(args.registry)
        mapping = parse_csv_mapping(args.csv_mapping) if args.csv_mapping else None
    except LoadError:
        return 2
    except ReaderError as exc:
        print(f"policysim evaluate: {exc}", file=sys.stderr)
        return 2
    engine = Engine(policies, registry)
    rejects_path = args.rejects or default_rejects_path(args.out, args.events)
    stderr = Console(stderr=True)
    with ExitStack() as stack:
        out = sys.stdout.buffer if args.out == "-" else stack.enter_context(open(args.out, "wb"))
        rejects = stack.enter_context(RejectsFile(rejects_path))
        total = _line_total(args.events, settings.progress_min_bytes)
        progress = stack.enter_context(_progress(stderr, total is not None or None))
        task = progress.add_task("evaluating", total=total)
        try:
            summary = evaluate_stream(
                engine,
                read_events(args.events, args.format, mapping),
                out,
                rejects.write,
                settings.evaluate_batch,
                lambda line: progress.update(task, completed=line),
            )
        except (ReaderError, OSError) as exc:
            print(f"policysim evaluate: {args.events}: {exc}", file=sys.stderr)
            return 2
    where = f" -> {rejects_path}" if summary.rejected else ""
    stderr.print(f"{summary.events} events evaluated, {summary.rejected} rejected{where}")
    stderr.print(_table(summary))
    return 0


def _line_total(path: str, min_bytes: int) -> int | None:
    """Lines in a large plain file (the bar's total); None for small or compressed inputs."""
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


def _progress(console: Console, show: bool | None) -> Progress:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("lines"),
    )
    return Progress(*columns, console=console, transient=True, disable=not show)


def _table(summary: Summary) -> Table:
    table = Table()
    table.add_column("policy")
    for decision in DECISIONS:
        table.add_column(decision, justify="right")
    table.add_column("total", justify="right")
    for policy, counts in zip(summary.labels, summary.decisions, strict=True):
        cells = [str(counts[d]) for d in DECISIONS]
        table.add_row(policy, *cells, str(sum(counts.values())))
    table.add_row("rejected inputs", "", "", "", str(summary.rejected))
    return table
