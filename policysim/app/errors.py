"""What a use case tells a person when it cannot do its work, with the exit code it means.

Use cases turn the errors of the layers below (a scenario that does not
validate, a broker nobody answers at, an ``--out`` that is a file) into one
of these, so every command reports a failure the same way: the details (say
every ``FILE:LINE: message`` of a bad file), then one sentence starting with
``policysim COMMAND:``; never a traceback. The exit code follows the
convention: 2 for input that cannot be used, 1 for work that started and
failed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


class AppError(Exception):
    """A failure to report in a sentence; ``exit_code`` is the process's exit code."""

    exit_code = 2

    def __init__(
        self, message: str, details: Sequence[str] = (), exit_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.details = list(details)
        if exit_code is not None:
            self.exit_code = exit_code

    def lines(self, command: str) -> list[str]:
        """What to print on stderr: the details, then ``policysim COMMAND: message``."""
        return [*self.details, f"policysim {command}: {self}"]

    def report(self, command: str) -> int:
        """Print :meth:`lines` on stderr; return the exit code (for a command's handler)."""
        print("\n".join(self.lines(command)), file=sys.stderr)
        return self.exit_code


class BadInput(AppError):
    """Bad input or usage: a missing file, a bad scenario or registry, no broker at start."""

    exit_code = 2


class RunFailed(AppError):
    """The work started and failed (the broker went away, a worker died)."""

    exit_code = 1


class OutputError(BadInput):
    """An output path that cannot be written: a folder where a file is wanted, or the reverse."""
