"""``policysim worker``: run one enforcement worker (a Faust app) until stopped."""

from __future__ import annotations

import argparse
import logging
import sys

from policysim.settings import Settings, load_settings

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
    from streams.worker import build_engine, run_worker

    if not settings.bootstrap:
        log.error("policysim worker: --bootstrap (or $POLICYSIM_BOOTSTRAP) is required")
        return 2
    try:
        engine = build_engine(args.policy, args.registry)
    except (ValueError, OSError) as exc:  # PolicyError, RegistryError, unreadable files
        log.error("policysim worker: cannot start:\n%s", exc)
        return 2
    settings = settings.replace(metrics_port=args.metrics_port, consumer_group=args.group)
    return run_worker(settings, engine, args.policy)


def main(argv: list[str] | None = None) -> int:
    """``python -m policysim.commands.worker ARGS``: the worker without the rest of the CLI.

    Child worker processes start this way so that they depend only on the
    worker's own modules, not on every command module the CLI imports.
    """
    parser = argparse.ArgumentParser(prog="policysim")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["worker", *(sys.argv[1:] if argv is None else argv)])
    settings = load_settings(bootstrap=args.bootstrap)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return run(args, settings)


if __name__ == "__main__":
    sys.exit(main())
