"""``policysim config``: show the settings in force and where each can be set."""

from __future__ import annotations

import argparse
from dataclasses import fields

from policysim.base.settings import ENV_PREFIX, Settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``config`` subcommand."""
    parser = sub.add_parser(
        "config",
        help="print the settings in force (defaults < file < environment < flags)",
        description="Print every setting, its value in force and its environment variable.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the settings as TOML that ``--config`` accepts back."""
    print("[policysim]")
    for f in fields(Settings):
        value = getattr(settings, f.name)
        shown = "<hidden>" if "password" in f.name and value else value
        rendered = f'"{shown}"' if isinstance(shown, str) else shown
        print(f"{f.name} = {rendered}  # ${ENV_PREFIX}{f.name.upper()}: {f.metadata['help']}")
    return 0
