"""``policysim replay``: a recorded log (Zeek, JSON lines, CSV) to a file or a Kafka topic."""

from __future__ import annotations

import argparse
import logging

from policysim.app.sending import SEND_ERRORS, kafka_target, open_sink_for, run_paced
from policysim.base.settings import Settings
from policysim.commands.options import add_sink_arguments
from policysim.policies.model import parse_timestamp
from policysim.simulators.logfiles import FORMATS, ReaderError, parse_csv_mapping
from policysim.simulators.rejects import RejectsFile, default_rejects_path
from policysim.simulators.replay import ReplayCounts, ReplayOptions, replay_items
from policysim.streams.kafka_sink import TargetError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``replay`` subcommand."""
    parser = sub.add_parser(
        "replay",
        help="replay a Zeek conn.log, JSON lines or CSV at recorded speed or a fixed rate",
        description=(
            "Replay a log keeping its inter-arrival gaps scaled by --speed (0 = as fast as "
            "possible) or at a fixed --rate; --loop N repeats it with unique ids; --start moves "
            "the first event to a given time. Bad lines go to --rejects and are counted."
        ),
    )
    parser.add_argument("file", help="the log (gzip or plain)")
    parser.add_argument("--format", choices=FORMATS, default="auto")
    parser.add_argument(
        "--csv-map", metavar="FIELD=COLUMN,...", help="CSV column for each event field"
    )
    pacing = parser.add_mutually_exclusive_group()
    pacing.add_argument("--speed", type=float, default=1.0, help="gap scale (default 1 = real)")
    pacing.add_argument("--rate", type=float, help="fixed events per second instead of gaps")
    parser.add_argument("--loop", type=int, default=1, help="times to replay (default 1)")
    parser.add_argument("--start", help="ISO 8601 time (with offset) for the first event")
    parser.add_argument(
        "--rejects",
        metavar="FILE",
        help="rejected lines, JSON lines (default: OUT.rejects.jsonl, or FILE's name in the "
        "working folder when sending to Kafka); created only when a line is rejected",
    )
    add_sink_arguments(parser, default_batch="1")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Replay, then print read / sent / rejected (which add up)."""
    try:
        options = ReplayOptions(
            speed=args.speed,
            rate=args.rate,
            loops=args.loop,
            start=parse_timestamp(args.start) if args.start else None,
        )
        mapping = parse_csv_mapping(args.csv_map) if args.csv_map else None
        sink = open_sink_for(
            settings,
            args.out,
            kafka_target(settings, args.bootstrap, args.topic, getattr(args, "to", None)),
            args.producer,
            args.batch,
            args.linger_ms,
        )
    except (ValueError, ReaderError, TargetError) as exc:
        log.error("%s", exc)
        return 2
    counts = ReplayCounts()
    rejects_path = args.rejects or default_rejects_path(args.out, args.file)
    with RejectsFile(rejects_path) as rejects:
        try:
            items = replay_items(args.file, options, counts, rejects.write, args.format, mapping)
            result = run_paced(
                items,
                sink,
                total=None,
                target_rate=args.rate,
                show_progress=not args.no_progress,
                description=f"replay {args.file}",
            )
        except (ReaderError, ValueError) as exc:
            log.error("%s", exc)
            return 2
        except SEND_ERRORS as exc:
            log.error("replay of %s failed: %s", args.file, exc)
            return 1
    print(
        f"read {counts.read:,} lines: sent {result.events:,} events "
        f"({result.messages:,} messages), rejected {counts.rejected:,}"
        + (f" (see {rejects_path})" if counts.rejected else "")
        + f"; {result.elapsed:.2f} s"
    )
    return 0
