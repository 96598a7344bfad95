"""``policysim report``: the impact report of a verdict file (e.g. from ``policysim dump``)."""

from __future__ import annotations

import argparse
import json
import sys

from policysim.base.settings import Settings
from policysim.commands import options


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    parser = sub.add_parser(
        "report",
        help="write the impact report (json, md, html) of a verdict file",
        description="Count a verdict file (JSON lines) into report.json, report.md and a"
        " self-contained report.html. The enforced policy's verdicts stand for the events."
        " Prints the report.html path (or a JSON summary with --format json).",
    )
    parser.add_argument("verdicts", metavar="VERDICTS", help="verdicts, JSON lines")
    parser.add_argument(
        "--out",
        required=True,
        metavar="FOLDER",
        help="report folder, created if missing (required)",
    )
    parser.add_argument(
        "--scenario",
        metavar="SCENARIO",
        help="scenario file or bundled name the events came from: time zone and deadline"
        " (default: none, UTC and no deadline)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="the scenario's seed, recorded in the report (default: none)",
    )
    parser.add_argument(
        "--timezone",
        metavar="ZONE",
        help="time zone of days and charts, e.g. Asia/Karachi (default: the scenario's, else UTC)",
    )
    options.add_registry(
        parser, "default: none; with it the adoption curve is exact, not estimated"
    )
    parser.add_argument(
        "--policy",
        action="append",
        metavar="FILE",
        help="policy file of the verdicts, repeatable: every rule is listed, also those that"
        " decided nothing (default: none, only rules seen in the verdicts)",
    )
    options.add_format(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Build, write, and name the report."""
    from policysim.app.errors import AppError
    from policysim.app.report_files import report_from_verdicts

    try:
        result = report_from_verdicts(
            args.verdicts,
            args.out,
            scenario=args.scenario,
            seed=args.seed,
            timezone=args.timezone,
            registry=args.registry,
            skip_bad_rows=args.skip_bad_rows,
            policies=args.policy,
        )
    except AppError as exc:
        return exc.report("report")
    if args.format == "json":
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    skipped = result.registry_rows_skipped
    note = f"; registry: {skipped:,} bad rows skipped" if skipped else ""
    print(f"{result.report['totals']['verdicts']:,} verdicts counted{note}", file=sys.stderr)
    print(result.written["report.html"])
    return 0
