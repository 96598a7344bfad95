"""``policysim registry compile IN OUT``: a registry file as a snapshot that loads at once."""

from __future__ import annotations

import argparse
import json

from policysim.base.settings import Settings
from policysim.commands.options import add_format, add_skip_bad_rows


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``registry`` command and its ``compile`` subcommand."""
    parser = sub.add_parser(
        "registry",
        help="compile a registry file into a snapshot that loads without parsing",
        description="Registry files for large registries.",
    )
    registry_sub = parser.add_subparsers(dest="registry_command", metavar="SUBCOMMAND")
    registry_sub.required = True
    compile_parser = registry_sub.add_parser(
        "compile",
        help="validate a registry file and write it as a snapshot",
        description="Validate a registry file (.csv, .jsonl or a snapshot) and write it as a "
        "registry snapshot: one checksummed file that evaluate, run, worker, explain and "
        "register accept wherever a registry file is, and load without parsing or validating "
        "row by row. A damaged snapshot is refused whole.",
    )
    compile_parser.add_argument("source", metavar="IN", help="registry file to compile")
    compile_parser.add_argument(
        "out", metavar="OUT", help="snapshot file to write (suggested suffix: .registry)"
    )
    add_skip_bad_rows(compile_parser)
    add_format(compile_parser)
    compile_parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Compile and say what went into the snapshot."""
    from policysim.app.errors import AppError
    from policysim.app.registry import compile_registry

    try:
        result = compile_registry(args.source, args.out, args.skip_bad_rows)
    except AppError as exc:
        return exc.report("registry compile")
    if args.format == "json":
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    skipped = f"; skipped {result.skipped_rows:,} bad rows" if result.skipped_rows else ""
    print(
        f"compiled {result.prefixes:,} prefixes of {result.entities:,} entities from "
        f"{result.source} into {result.snapshot} ({result.bytes:,} bytes, registry "
        f"v{result.registry_version}, {result.seconds:.2f} s){skipped}"
    )
    return 0
