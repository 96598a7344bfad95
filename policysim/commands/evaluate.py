"""``policysim evaluate``: offline evaluation of an event file against one or more policies.

Events are read by :func:`policysim.simulators.logfiles.read_events` (JSON lines, CSV,
Zeek TSV or Zeek JSON), evaluated in batches through
:meth:`policysim.policies.engine.Engine.evaluate` — the same path as the stream worker —
and written as one verdict per event per policy, in input order. Inputs that
are not valid events go to the rejects file with their reason and are counted
in the summary, never dropped silently.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from policysim.app.evaluate import Summary, evaluate_stream
from policysim.app.loading import LoadError, load_policies, load_registry
from policysim.base.settings import Settings
from policysim.base.vocabulary import DECISIONS
from policysim.policies.engine import Engine
from policysim.simulators.logfiles import FORMATS, ReaderError, parse_csv_mapping, read_events
from policysim.simulators.rejects import RejectsFile, default_rejects_path


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
