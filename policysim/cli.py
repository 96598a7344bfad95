"""The ``policysim`` console script: one entry point, one subcommand per job.

Each module in :mod:`policysim.commands` owns its subcommands: it exposes
``register(subparsers)``, which adds parsers whose ``handler`` default is a
function ``(args, settings) -> int``. This file wires them together, and does
for every parser (nested ones too) what a person should find the same
everywhere: the global flags accepted after the subcommand as well, every
flag's default in ``--help``, logging without third-party noise, and one
sentence instead of a traceback when something unexpected breaks.

It imports nothing heavy at import time and neither do the command modules
(their handlers import what they need), so ``policysim --help`` answers at once.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import logging
import sys
import warnings
from collections.abc import Iterator, Sequence

from policysim import __version__
from policysim.base.settings import SettingsError, load_settings

COMMAND_MODULES = (
    "policysim.commands.run",
    "policysim.commands.sweep",
    "policysim.commands.up",
    "policysim.commands.simulate",
    "policysim.commands.replay",
    "policysim.commands.evaluate",
    "policysim.commands.policy",
    "policysim.commands.explain",
    "policysim.commands.report",
    "policysim.commands.register",
    "policysim.commands.registry",
    "policysim.commands.broker",
    "policysim.commands.worker",
    "policysim.commands.dump",
    "policysim.commands.dashboards",
    "policysim.commands.bench",
    "policysim.commands.config",
)

# Libraries whose INFO and WARNING lines mean nothing to a person running a command.
NOISY_LOGGERS = ("faust", "mode", "asyncio", "urllib3")
# Kafka clients log every failed connection; the commands count and report them instead.
KAFKA_CLIENT_LOGGERS = ("kafka", "aiokafka")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# Where each parser's own name is kept, for error messages (``policysim policy check``).
PROG_DEST = "_policysim_prog"

log = logging.getLogger("policysim")


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every flag's help ends with its default, unless it already says it or is a switch.

    A flag with no default is shown as ``(required)`` or ``(default: none)``; a
    flag without help text still gets its default shown.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        said = "default" in text.lower() or "required" in text.lower()
        if not action.option_strings or action.nargs == 0 or said:
            return text
        if action.required:
            note = "(required)"
        elif action.default is None or action.default == []:
            note = "(default: none)"
        else:
            note = "(default: %(default)s)"
        return f"{text} {note}" if text else note

    def _with_help(self, action: argparse.Action) -> argparse.Action:
        """The action, or a copy with help text when it has none but a default to show."""
        if action.help is not None or not action.option_strings or action.nargs == 0:
            return action
        shown = copy.copy(action)
        shown.help = self._get_help_string(action)
        return shown

    def _format_action(self, action: argparse.Action) -> str:
        return super()._format_action(self._with_help(action))

    def shown_help(self, action: argparse.Action) -> str:
        """An action's help text as ``--help`` shows it (empty when it has none)."""
        action = self._with_help(action)
        return self._expand_help(action) if action.help else ""


class RawDescriptionDefaultsHelpFormatter(
    argparse.RawDescriptionHelpFormatter, DefaultsHelpFormatter
):
    """:class:`DefaultsHelpFormatter` for parsers whose description is laid out by hand."""


def _add_global_flags(parser: argparse.ArgumentParser, default: object) -> None:
    """``--config`` and ``--log-level``; on subparsers their default is ``SUPPRESS``, so a
    flag given after the subcommand replaces the one given before it, and none leaves it."""
    taken = parser._option_string_actions
    if "--config" not in taken:
        parser.add_argument(
            "--config",
            metavar="FILE",
            default=default,
            help="TOML settings file (default: $POLICYSIM_CONFIG, else built-in defaults)",
        )
    if "--log-level" not in taken:
        parser.add_argument(
            "--log-level",
            metavar="LEVEL",
            type=str.upper,
            choices=LOG_LEVELS,
            default=default,
            help="DEBUG, INFO, WARNING or ERROR; DEBUG also shows other libraries' logs and"
            " tracebacks (default: the log_level setting, INFO)",
        )


def subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser below ``parser`` (nested ones too), each once."""
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if id(child) in seen:  # aliases share a parser
                    continue
                seen.add(id(child))
                yield child
                yield from subparsers(child)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command module's subcommands."""
    parser = argparse.ArgumentParser(
        prog="policysim",
        description="Try VPN-registration enforcement policies on connection traffic.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"policysim {__version__}")
    _add_global_flags(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for child in subparsers(parser):
        raw = issubclass(child.formatter_class, argparse.RawDescriptionHelpFormatter)
        child.formatter_class = (
            RawDescriptionDefaultsHelpFormatter if raw else DefaultsHelpFormatter
        )
        _add_global_flags(child, argparse.SUPPRESS)
        child.set_defaults(**{PROG_DEST: child.prog})
    return parser


def configure_logging(level: str) -> None:
    """Our messages at ``level`` on stderr; other libraries' only when they are errors.

    The handler looks up ``sys.stderr`` at every line: while a rich progress bar
    is live, that is rich's proxy, which prints the line above the bar instead
    of through it. At DEBUG every library speaks, and Python warnings are logged.
    """
    debug = level == "DEBUG"
    root = logging.getLogger()
    if not root.handlers:
        handler = _CurrentStderrHandler()
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s"
                if debug
                else "%(levelname)s: %(message)s"
            )
        )
        root.addHandler(handler)
    root.setLevel(level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.ERROR)
    for name in KAFKA_CLIENT_LOGGERS:  # their connection errors are counted and said by us
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.CRITICAL)
    logging.captureWarnings(debug)
    if not debug and not sys.warnoptions:
        warnings.filterwarnings("ignore")


class _CurrentStderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is when a line is logged."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        """The base class sets it once; the current ``sys.stderr`` is used instead."""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, configure logging and run the chosen subcommand."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(
            args.config,
            log_level=args.log_level,
            bootstrap=getattr(args, "bootstrap", None),
            broker_engine=getattr(args, "engine", None),
        )
    except SettingsError as exc:
        parser.exit(2, f"policysim: {exc}\n")
    level = settings.log_level.upper()
    if level not in LOG_LEVELS:
        known = ", ".join(LOG_LEVELS)
        parser.exit(2, f"policysim: log level {settings.log_level!r}: use one of {known}\n")
    configure_logging(level)
    prog = getattr(args, PROG_DEST, "policysim")
    try:
        # Event times outside these years are refused by every command this process runs.
        from policysim.policies.model import set_time_window

        set_time_window(settings.earliest_event_year, settings.latest_event_year)
        return int(args.handler(args, settings) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last resort: a sentence, never a traceback
        log.debug("%s failed", prog, exc_info=True)
        print(
            f"{prog}: internal error: {type(exc).__name__}: {exc}; "
            "run again with --log-level DEBUG to see where",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
