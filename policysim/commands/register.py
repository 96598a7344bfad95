"""``policysim register FILE``: publish registrations to the registrations topic."""

from __future__ import annotations

import argparse

from policysim.base.settings import Settings
from policysim.commands.options import add_bootstrap_server, add_topic, fail


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``register`` subcommand."""
    parser = sub.add_parser(
        "register",
        help="publish a registry file's registrations and revocations to running workers",
        description="Validate a registry file (.csv, .jsonl of registry records, or a compiled"
        " snapshot) and publish its records to the registrations topic, keyed by entity id."
        " Workers apply them as of their event time, within a second. A file with any bad row"
        " is refused whole (every problem is listed as FILE:LINE: message) unless"
        " --skip-bad-rows.",
    )
    parser.add_argument(
        "file", metavar="FILE", help="registry file: .csv, .jsonl or a compiled snapshot"
    )
    add_bootstrap_server(parser, "; register needs the workers' broker")
    add_topic(parser, "topic_registrations")
    parser.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="publish the good rows of a file with bad ones, and count the bad (default: "
        "refuse the whole file)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Validate, publish, and say how many records of how many entities went where."""
    from policysim.app.errors import AppError
    from policysim.app.register import bad_rows, register_file
    from policysim.app.sending import acknowledgement

    topic = args.topic or settings.topic_registrations
    try:
        result = register_file(settings, args.file, topic, args.skip_bad_rows)
    except AppError as exc:
        return exc.report("register")
    skipped = f"; skipped {bad_rows(result.skipped_rows)}" if result.skipped_rows else ""
    acked = acknowledgement(result.records, result.acknowledged, result.lost)
    print(
        f"published {result.records:,} records of {result.entities:,} entities from "
        f"{result.file} to {result.topic}{skipped}; {acked}"
    )
    if result.lost:
        because = f" ({result.first_error})" if result.first_error else ""
        return fail(
            "register",
            f"{result.lost:,} of {result.records:,} records were lost{because}: "
            f"publish {result.file} again (a record applied twice changes nothing)",
            1,
        )
    return 0
