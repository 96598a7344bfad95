"""``policysim replay FILE``: a recorded log (Zeek, JSON lines, CSV) to a file or a Kafka topic."""

from __future__ import annotations

import argparse
import functools

from policysim.base.settings import Settings
from policysim.commands.options import (
    EVENTS_FORMATS,
    add_alias,
    add_events_file,
    add_sink_arguments,
    events_file_of,
    fail,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``replay`` subcommand."""
    parser = sub.add_parser(
        "replay",
        help="replay a Zeek conn.log, JSON lines or CSV at recorded speed or a fixed rate",
        description=(
            "Replay a log keeping its inter-arrival gaps scaled by --speed (0 = as fast as "
            "possible) or at a fixed --rate; --loop N repeats it with unique ids; --start moves "
            "the first event to a given time. Events go to --out FILE or to --bootstrap-server "
            "HOST:PORT (--topic). Lines that are not events are counted and written to a "
            "rejects file (JSON lines), which the summary names."
        ),
        epilog="Older spellings still accepted: --log-format and --format (for --events-format),"
        " --csv-map, "
        "--to kafka://HOST:PORT/TOPIC, --bootstrap, --linger.",
    )
    parser.add_argument("file", metavar="FILE", nargs="?", help="the log (as --events-file)")
    add_events_file(parser)
    add_alias(parser, "--log-format", "events_format", choices=EVENTS_FORMATS)
    add_alias(parser, "--format", "events_format", choices=EVENTS_FORMATS)
    pacing = parser.add_mutually_exclusive_group()
    pacing.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="scale of the recorded gaps: 2 = twice as fast, 0 = as fast as possible "
        "(default: 1, recorded speed)",
    )
    pacing.add_argument(
        "--rate",
        type=float,
        metavar="R",
        help="events per second, evenly, instead of the recorded gaps (default: not used)",
    )
    parser.add_argument(
        "--loop", type=int, default=1, metavar="N", help="times to replay the log (default: 1)"
    )
    parser.add_argument(
        "--start",
        metavar="TIME",
        help="ISO 8601 time with offset for the first event (default: the recorded times)",
    )
    parser.add_argument(
        "--rejects",
        metavar="FILE",
        help="rejected lines, JSON lines (default: OUT.rejects.jsonl beside --out; when sending "
        "to Kafka, a file in the system temp folder); created only when a line is rejected",
    )
    add_sink_arguments(parser, default_batch="1")
    parser.set_defaults(handler=functools.partial(run, parser))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    """Replay, then print read / sent / rejected (which add up) and where the rejects are."""
    from policysim.app.errors import AppError
    from policysim.app.replay import ReplayRequest, replay
    from policysim.app.sending import SinkChoice, acknowledgement, lost_events

    request = ReplayRequest(
        file=args.file or events_file_of(parser, args),
        log_format=args.events_format,
        csv_map=args.csv_mapping,
        speed=args.speed,
        rate=args.rate,
        loops=args.loop,
        start=args.start,
        rejects=args.rejects,
        sink=SinkChoice.from_flags(args),
    )
    try:
        result = replay(settings, request)
    except AppError as exc:
        return exc.report("replay")
    counts, sent = result.counts, result.sent
    acked = (
        f"; {acknowledgement(sent.events, sent.acknowledged, sent.lost)}"
        if request.sink.to_broker
        else ""
    )
    print(
        f"read {counts.read:,} lines: sent {sent.events:,} events "
        f"({sent.messages:,} messages), rejected {counts.rejected:,}"
        + (f" (see {result.rejects_path})" if counts.rejected else "")
        + f"{acked}; {sent.elapsed:.2f} s"
    )
    if sent.lost:
        return fail("replay", lost_events(sent.events, sent.lost, sent.first_error), 1)
    return 0
