"""``policysim dashboards generate [--check]`` and ``policysim snapshot``.

``dashboards generate`` writes the Grafana JSON from the code in ``dashboards/``;
``--check`` only compares, for CI and the pre-commit habit. ``snapshot`` draws the
Enforcement overview's panels from a live Prometheus as PNG files.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from policysim.base.settings import Settings
from policysim.commands import options


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``dashboards`` and ``snapshot`` subcommands."""
    dashboards = sub.add_parser(
        "dashboards",
        help="Grafana dashboards as code",
        description="Generate the Grafana dashboards in dashboards/grafana/dashboards from code.",
    )
    actions = dashboards.add_subparsers(dest="action", metavar="ACTION", required=True)
    gen = actions.add_parser(
        "generate",
        help="write the dashboard JSON files (or check them with --check)",
        description="Write dashboards/grafana/dashboards/*.json from dashboards/*.py.",
    )
    gen.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a checked-in file differs from the code",
    )
    gen.add_argument(
        "--out",
        type=Path,
        metavar="FOLDER",
        help="output folder (default: the package's dashboards/grafana/dashboards, which"
        " Grafana provisions)",
    )
    gen.set_defaults(handler=run_generate)

    snap = sub.add_parser(
        "snapshot",
        help="draw the Enforcement overview's panels from Prometheus as PNG files",
        description="Run the overview dashboard's queries against Prometheus and draw each"
        " panel with matplotlib: one PNG per panel and overview.png with all of them.",
    )
    snap.add_argument(
        "--prometheus",
        required=True,
        metavar="URL",
        help="Prometheus URL, e.g. http://127.0.0.1:9090 (required)",
    )
    snap.add_argument(
        "--out", type=Path, required=True, metavar="FOLDER", help="folder for the PNG files"
    )
    snap.add_argument(
        "--minutes",
        type=float,
        default=15.0,
        metavar="N",
        help="length of the time range ending now, in minutes (default: 15)",
    )
    snap.add_argument(
        "--policy",
        metavar="NAME",
        help="policy to show (default: the enforced one, as the workers report it)",
    )
    snap.set_defaults(handler=run_snapshot)


def run_generate(args: argparse.Namespace, settings: Settings) -> int:
    """Write the dashboards, or with ``--check`` report the stale ones."""
    from policysim.dashboards import generate

    out = args.out or generate.OUTPUT_DIR
    if args.check:
        stale = generate.stale(out)
        for name in stale:
            print(f"{out / name}: differs from the code; run `policysim dashboards generate`")
        if not stale:
            print(f"{len(generate.DASHBOARDS)} dashboards up to date in {out}")
        return 1 if stale else 0
    if out.exists() and not out.is_dir():
        return options.fail("dashboards generate", f"--out {out} is a file; give a folder")
    for path in generate.write_all(out):
        print(f"wrote {path}")
    return 0


def run_snapshot(args: argparse.Namespace, settings: Settings) -> int:
    """Query Prometheus for the overview's panels and write the PNG files."""
    from policysim.dashboards import generate, overview
    from policysim.dashboards.promapi import Prometheus, PrometheusError
    from policysim.dashboards.snapshot import collect, enforced_policy, render, variable_values

    prometheus = Prometheus(args.prometheus)
    end = time.time()
    start = end - args.minutes * 60
    try:
        policy = args.policy or enforced_policy(prometheus)
        if policy is None:
            return options.fail(
                "snapshot",
                f"{args.prometheus} has no policysim_policy_info yet: is a worker scraped?",
                exit_code=1,
            )
        board = generate.as_dict(overview.build())
        values = variable_values(policy, end - start)
        panels = collect(prometheus, board, values, start, end)
    except PrometheusError as exc:
        return options.fail("snapshot", exc, exit_code=1)
    for path in render(panels, args.out, f"{board['title']} ({policy})"):
        print(f"wrote {path}")
    empty = [p.title for p in panels if not p.series]
    if empty:
        print(f"panels without data in this range: {', '.join(empty)}")
    return 0
