"""``policysim sweep``: how recall and collateral move as scenario values change.

The work is :func:`policysim.app.sweep.run_sweep`; this is its flags and its
output: the progress bar and the timing on stderr, the table on stdout (or
the sweep document as JSON with ``--format json``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os

from policysim.base.settings import Settings
from policysim.commands import options


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    parser = sub.add_parser(
        "sweep",
        help="run a scenario over a grid of values offline: recall and collateral per policy",
        description="Simulate SCENARIO at every combination of the --vary values, evaluate each"
        " point offline against every --policy, and write sweep.html (charts and a table) and"
        " sweep.json to --out, with each point's scenario file in scenarios/. Recall: illegitimate"
        " VPN traffic blocked (and flagged or blocked); collateral: legitimate traffic blocked, and"
        " flagged.",
    )
    options.add_scenario(parser)
    parser.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="PATH=V1,V2,...",
        help="a dotted path into the scenario file and the values it takes, as YAML"
        " (groups.personal_privacy.vpn_share=0.1,0.2,0.4); repeat for a grid (required)",
    )
    options.add_policies(parser, "default: the bundled example policies")
    parser.add_argument(
        "--out",
        metavar="FOLDER",
        help="sweep folder, created if missing (default: SCENARIO-sweep-UTCTIME in the folder"
        " named by the report_dir setting, reports)",
    )
    options.add_count(parser, "events per point", "default: the run_events setting, 200000")
    options.add_seed(parser, "default: the run_seed setting, 1")
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        default=os.cpu_count() or 1,
        help="points run at once, one process each (default: the number of CPUs, %(default)s)",
    )
    options.add_format(parser)
    parser.set_defaults(handler=functools.partial(run, parser))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    """Run the sweep with a progress bar, then print the table and where the page is."""
    from rich.console import Console

    from policysim.app.errors import AppError
    from policysim.app.sweep import run_sweep

    scenario = options.scenario_of(parser, args)
    console = Console(stderr=True)
    try:
        result = run_sweep(
            settings,
            scenario,
            args.vary,
            args.policy,
            args.out,
            count=args.count,
            seed=args.seed,
            jobs=args.jobs,
            console=console,
        )
    except AppError as exc:
        return exc.report("sweep")
    if args.format == "json":
        print(json.dumps(result.doc, indent=2))
    else:
        _print_table(result.doc)
    points = len(result.doc["points"])
    events = result.doc["sweep"]["count"]
    console.print(
        f"{points} points × {events:,} events in {result.seconds:.1f} s"
        f" ({result.processes} process{'' if result.processes == 1 else 'es'},"
        f" {points * events / result.seconds:,.0f} events/s);"
        f" open {result.written['sweep.html']}"
    )
    return 0


def _print_table(doc: dict) -> None:
    """The page's table, on stdout."""
    from rich.console import Console
    from rich.table import Table

    from policysim.report.sweep import table

    data = table(doc)
    shown = Table(title=data.title, title_justify="left", caption=data.note, caption_justify="left")
    policy = len(doc["parameters"])  # the column after the varied values, kept whole
    for i, header in enumerate(data.headers):
        justify = "right" if i in data.numeric else "left"
        shown.add_column(header, justify=justify, overflow="fold", no_wrap=i == policy)
    for row in data.rows:
        shown.add_row(*row)
    Console().print(shown)
