"""``policysim report``: the impact report of a verdict file (e.g. from ``policysim dump``).

``policysim run`` makes the report as it collects; this command makes the
same report afterwards from verdicts that were kept, from a dump of the
``verdicts`` topic of a live deployment, or from ``policysim evaluate``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from policysim.base.settings import Settings
from policysim.policies.registry import RegistryError
from policysim.policies.registry_files import load_registry
from policysim.report import ReportError, report_from_file, write_report
from policysim.report import inputs as describe
from policysim.report.builder import policy_order
from policysim.simulators.scenario import ScenarioError, load_scenario


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    parser = sub.add_parser(
        "report",
        help="write the impact report (json, md, html) of a verdict file",
        description="Count a verdict file (JSON lines) into report.json, report.md and a"
        " self-contained report.html. The enforced policy's verdicts stand for the events.",
    )
    parser.add_argument("verdicts", help="verdicts, JSON lines")
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--scenario", help="scenario the events came from (time zone, deadline)")
    parser.add_argument("--seed", type=int, help="the scenario's seed, for the record")
    parser.add_argument("--timezone", help="time zone of days and charts (default: scenario's)")
    parser.add_argument("--registry", help="registry file: the exact registration adoption curve")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Build, write, and name the report."""
    inputs: dict = {"software": describe.software()}
    timezone = args.timezone or "UTC"
    registrations = None
    try:
        if args.scenario:
            scenario = load_scenario(args.scenario)
            timezone = args.timezone or scenario.timezone
            inputs["scenario"] = describe.describe_scenario(scenario, args.seed, 0)
        if args.registry:
            registry = load_registry(args.registry)
            inputs["registry"] = describe.describe_file(args.registry, version=registry.version)
            registrations = describe.registrations(registry.records())
        names = policy_order(args.verdicts)
        inputs["policies"] = [
            {"name": name, "role": "enforced" if i == 0 else "shadow"}
            for i, name in enumerate(names)
        ]
        inputs["verdicts"] = describe.describe_file(args.verdicts)
        report = report_from_file(args.verdicts, names, timezone, inputs, registrations)
    except (OSError, ScenarioError, RegistryError, ReportError) as exc:
        print(f"policysim report: {exc}", file=sys.stderr)
        return 2
    written = write_report(report, Path(args.out))
    Console(stderr=True).print(f"{report['totals']['verdicts']:,} verdicts counted")
    print(written["report.html"])
    return 0
