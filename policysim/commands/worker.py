"""``policysim worker``: run one enforcement worker (a Faust app) until stopped."""

from __future__ import annotations

import argparse
import logging

from policysim.base.settings import Settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``worker`` subcommand."""
    parser = sub.add_parser(
        "worker",
        help="evaluate events from Kafka against policies and write verdicts",
        description="Read `connections`, evaluate every event against every policy (the "
        "first is enforced, the rest are shadows), write verdicts, serve /metrics. "
        "Stops cleanly on SIGINT/SIGTERM.",
    )
    parser.add_argument(
        "--policy", action="append", required=True, help="policy YAML (repeat for shadows)"
    )
    parser.add_argument("--registry", help="registry file (.csv or .jsonl) loaded at start")
    parser.add_argument("--bootstrap", help="Kafka HOST:PORT (also $POLICYSIM_BOOTSTRAP)")
    parser.add_argument("--metrics-port", type=int, help="metrics port (0 picks a free one)")
    parser.add_argument("--group", help="consumer group (workers in one group share partitions)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from policysim.app.worker import start

    settings = settings.replace(metrics_port=args.metrics_port, consumer_group=args.group)
    return start(settings, args.policy, args.registry)
