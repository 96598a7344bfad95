"""``policysim dump``: a topic to JSON lines, one verdict (or rejection) per line."""

from __future__ import annotations

import argparse
import sys

from policysim.base.settings import Settings
from policysim.commands.options import add_alias, add_bootstrap_server


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``dump`` subcommand."""
    parser = sub.add_parser(
        "dump",
        help="write a Kafka topic (verdicts, DLQ) to JSON lines, envelopes flattened",
        description="Read a topic from the beginning (all partitions, no consumer group) and "
        "write one JSON object per line until the topic has been idle for --idle-seconds.",
        epilog="Older spellings still accepted: the topic as a positional argument, "
        "--until-idle, --bootstrap.",
    )
    parser.add_argument("topic_argument", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument(
        "--topic",
        metavar="NAME",
        help="topic to read, e.g. connections-dlq (default: the topic_verdicts setting)",
    )
    parser.add_argument(
        "--out", metavar="FILE", default="-", help="JSON lines file (default: standard output)"
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=2.0,
        metavar="S",
        help="stop once no message arrived for S seconds (default: 2)",
    )
    add_alias(parser, "--until-idle", "idle_seconds", type=float)
    add_bootstrap_server(parser, "; dump needs a running broker")
    parser.add_argument("--no-progress", action="store_true", help="no spinner (default: shown)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Dump, then say how many objects went where (on stderr: stdout may be the dump)."""
    from policysim.app.dump import dump
    from policysim.app.errors import AppError

    topic = args.topic or args.topic_argument or settings.topic_verdicts
    try:
        result = dump(settings, topic, args.out, args.idle_seconds, not args.no_progress)
    except AppError as exc:
        return exc.report("dump")
    skipped = ""
    if result.not_json:
        were = "message was" if result.not_json == 1 else "messages were"
        skipped = f" ({result.not_json:,} {were} not JSON, skipped)"
    where = "standard output" if result.out == "-" else result.out
    print(f"{result.objects:,} objects from {result.topic} to {where}{skipped}", file=sys.stderr)
    return 0
