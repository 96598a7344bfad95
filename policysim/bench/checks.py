"""Checking a benchmark's flags before it starts: a bad number is a sentence, not a traceback."""

from __future__ import annotations

import argparse

from policysim.app.errors import BadInput


def at_least(args: argparse.Namespace, minimum: float, *flags: str) -> None:
    """BadInput unless every named flag (``--count``...) is at least ``minimum``."""
    for flag in flags:
        value = getattr(args, flag.removeprefix("--").replace("-", "_"))
        if value is not None and value < minimum:
            raise BadInput(f"{flag} {value:g}: at least {minimum:g}")


def more_than_zero(args: argparse.Namespace, *flags: str) -> None:
    """BadInput unless every named flag is more than 0."""
    for flag in flags:
        value = getattr(args, flag.removeprefix("--").replace("-", "_"))
        if value is not None and value <= 0:
            raise BadInput(f"{flag} {value:g}: more than 0")
