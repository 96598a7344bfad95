"""``policysim run``: from a scenario to an impact report in one command.

The work is :func:`policysim.app.run.run_scenario`; this is its flags and its
output: progress bars and the headline on stderr, the report folder on stdout
(or a JSON summary with ``--format json``).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from typing import TYPE_CHECKING

from policysim.base.settings import Settings
from policysim.commands import options

if TYPE_CHECKING:  # the handler imports these when it runs
    from rich.console import Console

    from policysim.app.run import RunResult


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand."""
    parser = sub.add_parser(
        "run",
        help="simulate a scenario, enforce policies on it, write the impact report",
        description="Simulate SCENARIO, stream it through Kafka and the worker (or evaluate it"
        " offline with --offline), and write report.json, report.md and report.html to --out."
        " The first --policy is enforced, the others are shadows.",
    )
    options.add_scenario(parser)
    options.add_policies(parser, "default: the bundled example policies")
    parser.add_argument(
        "--out",
        metavar="FOLDER",
        help="report folder, created if missing (default: SCENARIO-UTCTIME in the folder"
        " named by the report_dir setting, reports)",
    )
    parser.add_argument(
        "--offline", action="store_true", help="no broker and no worker: evaluate in-process"
    )
    options.add_count(parser, "events to simulate", "default: the run_events setting, 200000")
    options.add_seed(parser, "default: the run_seed setting, 1")
    parser.add_argument(
        "--keep-verdicts", action="store_true", help="also write verdicts.jsonl to the folder"
    )
    options.add_bootstrap_server(parser, "; not used with --offline")
    options.add_engine(parser)
    options.add_format(parser)
    parser.set_defaults(handler=functools.partial(run, parser))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    """Run the scenario with progress bars, then show the headline and the report folder."""
    from rich.console import Console

    from policysim.app.errors import AppError
    from policysim.app.run import run_scenario

    scenario = options.scenario_of(parser, args)
    console = Console(stderr=True)
    try:
        result = run_scenario(
            settings,
            scenario,
            args.policy,
            args.out,
            offline=args.offline,
            count=args.count,
            seed=args.seed,
            keep_verdicts=args.keep_verdicts,
            console=console,
        )
    except AppError as exc:
        return exc.report("run")
    if args.format == "json":
        print(json.dumps(result.as_dict(), indent=2))
    else:
        _print_headline(console, result)
        print(result.out)
    if result.events_lost:
        print(
            f"policysim run: {result.events_lost:,} events were lost by the broker; the report"
            " counts only what arrived",
            file=sys.stderr,
        )
        return 1
    return 0


def _print_headline(console: Console, result: RunResult) -> None:
    """The headline, one column per policy so that it fits 80 columns, and where to look."""
    from rich.table import Table

    from policysim.report import tables

    headline = tables.headline_by_policy(result.report)
    html = result.written["report.html"]
    shown = Table(
        title=f"Report: {html}", title_justify="left", caption=headline.note, caption_justify="left"
    )
    for i, header in enumerate(headline.headers):
        shown.add_column(header, justify="right" if i in headline.numeric else "left")
    for row in headline.rows:
        shown.add_row(*row)
    console.print(shown)
    totals = result.report["totals"]
    console.print(
        f"{totals['events']:,} events, {totals['verdicts']:,} verdicts in {result.seconds:.1f} s;"
        f" open {html}"
    )
