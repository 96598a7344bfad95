"""What a use case tells a person when it cannot do its work, with the exit code it means.

Use cases turn the errors of the layers below (a scenario that does not
validate, a broker nobody answers at, a folder that does not exist) into one
of these, so every command reports a failure the same way: the details (say
every ``FILE:LINE: message`` of a bad file) and then one sentence starting
with ``policysim COMMAND:``; never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


class CommandError(Exception):
    """A failure to report in a sentence; ``code`` is the process's exit code."""

    code = 2

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = list(details)

    def lines(self, command: str) -> list[str]:
        """What to print on stderr: the details, then ``policysim COMMAND: message``."""
        return [*self.details, f"policysim {command}: {self}"]

    def report(self, command: str) -> int:
        """Print :meth:`lines` on stderr; return the exit code (for a command's handler)."""
        print("\n".join(self.lines(command)), file=sys.stderr)
        return self.code


class BadInput(CommandError):
    """Bad input or usage: a missing file, a bad scenario or registry, no broker at start."""

    code = 2


class RunFailed(CommandError):
    """The work started and failed (the broker went away, a worker died)."""

    code = 1
