"""``policysim explain``: show, rule by rule, why an event gets its verdict."""

from __future__ import annotations

import argparse
import json
import sys

from policysim.base.settings import Settings
from policysim.commands import options


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``explain`` subcommand."""
    parser = sub.add_parser(
        "explain",
        help="explain the verdict of one event: rules tried, conditions, matching entity/prefix",
        description="Evaluate one event (JSON; `id` and `sport` may be left out) and show which"
        " rules were tried, which matched and which set, entity and prefix made each set"
        " condition true. The output starts with the registry used.",
    )
    parser.add_argument("event", metavar="EVENT_JSON", help="the event as JSON, or @FILE, or -")
    options.add_policies(parser)
    options.add_registry(
        parser, "default: the first policy's test_registry, as `policy test` uses, else none"
    )
    options.add_format(parser)
    options.add_alias(parser, "--json", "format", action="store_const", const="json")
    parser.set_defaults(handler=run)


def read_event_text(arg: str) -> str:
    """The event argument itself, a file named ``@FILE``, or stdin for ``-``."""
    if arg == "-":
        return sys.stdin.read()
    if arg.startswith("@"):
        with open(arg[1:], encoding="utf-8") as handle:
            return handle.read()
    return arg


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Explain the event; the registry used comes first in either format."""
    from policysim.app.errors import AppError
    from policysim.app.explain import explain_event
    from policysim.policies.explain import render

    try:
        text = read_event_text(args.event)
    except OSError as exc:
        return options.fail("explain", f"cannot read the event from {args.event}: {exc.strerror}")
    try:
        result = explain_event(args.policy, text, args.registry, args.skip_bad_rows)
    except AppError as exc:
        return exc.report("explain")
    if args.format == "json":
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    skipped = result.registry_rows_skipped
    print(result.registry.describe() + (f", {skipped:,} bad rows skipped" if skipped else ""))
    print(render(result.explanations))
    return 0
