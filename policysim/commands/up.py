"""``policysim up SCENARIO``: broker, worker and a scenario's traffic, with a summary at the end."""

from __future__ import annotations

import argparse
import json
import sys

from policysim.base.settings import Settings
from policysim.commands.options import (
    add_alias,
    add_bootstrap_server,
    add_count,
    add_engine,
    add_format,
    add_pacing,
    add_policies,
    add_scenario,
    add_seed,
    scenario_of,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``up`` subcommand."""
    parser = sub.add_parser(
        "up",
        help="embedded broker + worker + a scenario's traffic; verdicts stay in the topic",
        description="Start the embedded broker (or use --bootstrap-server), one worker with the "
        "policies (the first enforced, the others shadows) and SCENARIO's simulator; print a "
        "summary, then keep broker, worker and /metrics up until Ctrl-C (--exit stops at once).",
        epilog="Older spellings still accepted: --scenario S, --events N, --duration S, "
        "--workdir DIR, --bootstrap.",
    )
    add_scenario(parser)
    add_policies(parser, "default: the bundled example policies")
    add_seed(parser)
    add_count(parser, "events to send", "default: none, or give --rate and --duration-seconds")
    add_pacing(parser)
    add_engine(parser)
    parser.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="most events per Kafka message (default: the batch setting, 100)",
    )
    add_bootstrap_server(parser)
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="the worker's /metrics port (default: the metrics_port setting, 9464)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="folder for the registry and the logs (default: a new folder in the temp folder)",
    )
    add_alias(parser, "--workdir", "out")
    parser.add_argument(
        "--exit", action="store_true", help="stop everything after the summary (default: stay up)"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: shown)"
    )
    add_format(parser)
    parser.set_defaults(handler=run, parser=parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the scenario through broker and worker, print the summary, stay up until Ctrl-C."""
    from rich.console import Console

    from policysim.app.errors import AppError
    from policysim.app.up import UpRequest, UpSummary, up

    console = Console(stderr=True)

    def show(summary: UpSummary) -> None:
        if args.format == "json":
            print(json.dumps(summary.as_json(), indent=2), flush=True)
            return
        console.print(summary.table())
        for line in summary.lines():
            console.print(line, highlight=False, soft_wrap=True)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    request = UpRequest(
        scenario=scenario_of(args.parser, args),
        policies=args.policy or (),
        seed=1 if args.seed is None else args.seed,
        count=args.count,
        rate=args.rate,
        duration_seconds=args.duration_seconds,
        batch=args.batch,
        out=args.out,
        stay_up=not args.exit,
        progress=not args.no_progress,
    )
    try:
        up(settings.replace(metrics_port=args.metrics_port), request, show, say)
    except AppError as exc:
        return exc.report("up")
    return 0
