"""``policysim dump``: a topic to JSON lines, one verdict (or rejection) per line."""

from __future__ import annotations

import argparse
import sys

from policysim.base.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``dump`` subcommand."""
    parser = sub.add_parser(
        "dump",
        help="write a Kafka topic (verdicts, DLQ) to JSON lines, envelopes flattened",
        description="Read TOPIC from the beginning (all partitions, no consumer group) and "
        "write one JSON object per line until the topic has been idle for a while.",
    )
    parser.add_argument("topic", help="topic name, e.g. verdicts or connections-dlq")
    parser.add_argument("--out", required=True, help="output file ('-' for stdout)")
    parser.add_argument(
        "--until-idle", type=float, default=2.0, help="stop after this many quiet seconds"
    )
    parser.add_argument("--bootstrap", help="Kafka HOST:PORT (also $POLICYSIM_BOOTSTRAP)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from policysim.streams.reading import dump_topic

    if not settings.bootstrap:
        raise SystemExit("policysim dump: --bootstrap (or $POLICYSIM_BOOTSTRAP) is required")
    columns = (SpinnerColumn(), TextColumn("{task.description}: {task.completed} objects"))
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(f"dumping {args.topic}", total=None)

        def advance(n: int) -> None:
            progress.update(task, completed=n)

        if args.out == "-":
            count = dump_topic(settings, args.topic, sys.stdout.buffer, args.until_idle, advance)
        else:
            with open(args.out, "wb") as out:
                count = dump_topic(settings, args.topic, out, args.until_idle, advance)
    print(f"{count} objects from {args.topic} -> {args.out}", file=sys.stderr)
    return 0
