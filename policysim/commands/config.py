"""``policysim config``: show the settings in force and where each can be set."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

from policysim.base.settings import ENV_PREFIX, Settings
from policysim.commands import options


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``config`` subcommand."""
    parser = sub.add_parser(
        "config",
        help="print the settings in force (defaults < file < environment < flags)",
        description="Print every setting, its value in force and its environment variable:"
        " as TOML that --config accepts back, or as JSON with --format json.",
    )
    options.add_format(parser)
    parser.set_defaults(handler=run)


def _shown(name: str, value: object) -> object:
    """A password set is shown as ``<hidden>``."""
    return "<hidden>" if "password" in name and value else value


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the settings as TOML (or JSON: name -> value, environment variable, help)."""
    if args.format == "json":
        shown = {
            f.name: {
                "value": _shown(f.name, getattr(settings, f.name)),
                "env": f"{ENV_PREFIX}{f.name.upper()}",
                "help": f.metadata["help"],
            }
            for f in fields(Settings)
        }
        print(json.dumps(shown, indent=2))
        return 0
    print("[policysim]")
    for f in fields(Settings):
        shown = _shown(f.name, getattr(settings, f.name))
        rendered = json.dumps(shown) if isinstance(shown, (str, bool)) else shown  # TOML: true
        print(f"{f.name} = {rendered}  # ${ENV_PREFIX}{f.name.upper()}: {f.metadata['help']}")
    return 0
