"""``policysim worker``: run one enforcement worker (a Faust app) until stopped."""

from __future__ import annotations

import argparse

from policysim.base.settings import Settings
from policysim.commands.options import add_bootstrap_server, add_policies


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``worker`` subcommand."""
    parser = sub.add_parser(
        "worker",
        help="evaluate events from Kafka against policies and write verdicts",
        description="Read the connections topic, evaluate every event against every policy "
        "(the first is enforced, the rest are shadows), write verdicts, serve /metrics. "
        "Stops cleanly on SIGINT/SIGTERM.",
    )
    add_policies(parser)
    parser.add_argument(
        "--registry",
        metavar="FILE",
        help="registry file (.csv, .jsonl or a compiled snapshot) loaded at start (default:"
        " none, only the registrations topic)",
    )
    add_bootstrap_server(parser, "; the worker needs a running broker")
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="port of /metrics (default: the metrics_port setting, 9464; 0 picks a free one)",
    )
    parser.add_argument(
        "--group",
        metavar="NAME",
        help="consumer group; workers in one group share the partitions (default: the "
        "consumer_group setting, policysim-worker)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the worker; a reason it cannot start is one sentence and exit code 2."""
    from policysim.app.errors import AppError
    from policysim.app.worker import start

    settings = settings.replace(metrics_port=args.metrics_port, consumer_group=args.group)
    try:
        return start(settings, args.policy, args.registry)
    except AppError as exc:
        return exc.report("worker")
