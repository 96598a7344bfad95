"""What a use case raises when it cannot do its job, with the exit code the convention gives.

The commands print the text after ``policysim <command>: `` and exit with
``exit_code``: 2 for input that cannot be used (a missing file, a bad policy,
an ``--out`` that is a file), 1 for work that started and failed (a broker
that died mid-run).
"""

from __future__ import annotations


class AppError(Exception):
    """A sentence for a person (the first line), and the exit code it deserves."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class OutputError(AppError):
    """An ``--out`` that cannot be written: a folder where a file is wanted, or the reverse."""
