"""The ``policysim`` console script: one entry point, one subcommand per job.

Each module in :mod:`policysim.commands` owns its subcommands: it exposes
``register(subparsers)``, which adds parsers whose ``handler`` default is a
function ``(args, settings) -> int``. This file only wires them together and
turns the global flags into :class:`~policysim.base.settings.Settings`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from policysim import __version__
from policysim.base.settings import SettingsError, load_settings

COMMAND_MODULES = (
    "policysim.commands.run",
    "policysim.commands.up",
    "policysim.commands.simulate",
    "policysim.commands.replay",
    "policysim.commands.evaluate",
    "policysim.commands.policy",
    "policysim.commands.explain",
    "policysim.commands.report",
    "policysim.commands.register",
    "policysim.commands.broker",
    "policysim.commands.worker",
    "policysim.commands.dump",
    "policysim.commands.dashboards",
    "policysim.commands.bench",
    "policysim.commands.config",
)

log = logging.getLogger("policysim")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command module's subcommands."""
    parser = argparse.ArgumentParser(
        prog="policysim",
        description="Try VPN-registration enforcement policies on connection traffic.",
    )
    parser.add_argument("--version", action="version", version=f"policysim {__version__}")
    parser.add_argument("--config", help="TOML settings file (also $POLICYSIM_CONFIG)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, configure logging and run the chosen subcommand."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(
            args.config,
            log_level=args.log_level,
            bootstrap=getattr(args, "bootstrap", None),
        )
    except SettingsError as exc:
        parser.exit(2, f"policysim: {exc}\n")
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args, settings) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
