"""``policysim evaluate``: offline evaluation of an event file against one or more policies.

One verdict per event per policy, in input order (see
:func:`policysim.app.evaluate.evaluate_file`); inputs that are not valid
events go to the rejects file and are counted in the summary.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from policysim.base.settings import Settings
from policysim.base.vocabulary import DECISIONS
from policysim.commands import options

if TYPE_CHECKING:  # the handlers import these when they run
    from rich.console import Console
    from rich.table import Table

    from policysim.app.evaluate import Summary

# The input formats of policysim.simulators.logfiles.read_events (kept in step by a test).


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    parser = sub.add_parser(
        "evaluate",
        help="evaluate an event file (JSONL, CSV, Zeek) against policies, write verdicts",
        description="One verdict per event per policy, in input order; a summary on stderr"
        " (or JSON on stdout with --format json). The first --policy is the enforced one, the"
        " others are shadows. Inputs that are not events go to the rejects file.",
    )
    options.add_policies(parser)
    options.add_registry(parser, "", required=True)
    options.add_events_file(parser)
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="verdicts, JSON lines; '-' for stdout (required)",
    )
    parser.add_argument(
        "--rejects",
        metavar="FILE",
        help="rejected inputs, JSON lines, written only when an input is rejected (default:"
        " beside --out as NAME.rejects.jsonl; in the temp folder when --out is '-')",
    )
    options.add_format(parser)
    parser.set_defaults(handler=functools.partial(run, parser))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate with a progress bar on stderr, then print the summary."""
    from rich.console import Console

    from policysim.app.errors import AppError
    from policysim.app.evaluate import evaluate_file, line_total

    events_file = options.events_file_of(parser, args)
    console = Console(stderr=True)
    total = line_total(events_file, settings.progress_min_bytes)
    try:
        with _progress(console, total) as update:
            summary = evaluate_file(
                args.policy,
                args.registry,
                events_file,
                args.out,
                events_format=args.events_format,
                csv_mapping=args.csv_mapping,
                rejects=args.rejects,
                skip_bad_rows=args.skip_bad_rows,
                batch_size=settings.evaluate_batch,
                progress=update,
            )
    except AppError as exc:
        return exc.report("evaluate")
    if args.format == "json":
        # Verdicts on stdout keep it for themselves; the summary then goes to stderr.
        stream = sys.stderr if args.out == "-" else sys.stdout
        print(json.dumps(summary.as_dict(), indent=2), file=stream)
        return 0
    where = f" -> {summary.rejects_path}" if summary.rejected else ""
    console.print(f"{summary.events:,} events evaluated, {summary.rejected:,} rejected{where}")
    if summary.registry_rows_skipped:
        console.print(
            f"registry {summary.registry}: {summary.registry_rows_skipped:,} bad rows skipped"
        )
    console.print(_table(summary))
    return 0


@contextlib.contextmanager
def _progress(console: Console, total: int | None) -> Iterator[Callable[[int], None]]:
    """A bar over the input's lines, for large files only; gives the update function."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("lines"),
    )
    with Progress(*columns, console=console, transient=True, disable=total is None) as shown:
        task = shown.add_task("evaluating", total=total)
        yield lambda line: shown.update(task, completed=line)


def _table(summary: Summary) -> Table:
    from rich.table import Table

    table = Table()
    table.add_column("policy")
    for decision in DECISIONS:
        table.add_column(decision, justify="right")
    table.add_column("total", justify="right")
    for policy, counts in zip(summary.labels, summary.decisions, strict=True):
        cells = [f"{counts[d]:,}" for d in DECISIONS]
        table.add_row(policy, *cells, f"{sum(counts.values()):,}")
    table.add_row("rejected inputs", *[""] * len(DECISIONS), f"{summary.rejected:,}")
    return table
