"""Problems found in an input file, each pinned to ``FILE:LINE:COLUMN``, and the error that
lists them all.

Policies, IP-set files, registry files and scenario files are all refused the
same way: every problem is collected (not only the first), each names the place
in the file that caused it, and one :class:`ProblemError` carries the list. A
person fixing a file sees all there is to fix at once, and editors and CI can
parse every kind of input's problems with one pattern. Warnings (from
:mod:`policysim.policies.language.analysis`) are the same value with another
severity.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Position:
    """A place in a file; ``line`` and ``column`` count from 1, and 0 means "not known".

    A problem with the file as a whole (it cannot be read) has no line; a
    problem with a whole line (a CSV row with too few fields) has no column; a
    problem found after the file was read (its data cannot be used) may have no
    file either, when its message names it.
    """

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        if not self.column:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Problem:
    """One error or warning at a position, printed as ``FILE:LINE:COLUMN: message``."""

    position: Position
    message: str
    severity: str = "error"

    @property
    def file(self) -> str:
        return self.position.file

    @property
    def line(self) -> int:
        return self.position.line

    @property
    def column(self) -> int:
        return self.position.column

    def __str__(self) -> str:
        where = f"{self.position}: " if self.position.file else ""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}{prefix}{self.message}"


class ProblemError(ValueError):
    """An input refused as a whole; ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def suggest(word: object, choices: Iterable[str]) -> str:
    """``(expected one of: a, b); did you mean 'a'?`` for a word that is not one of ``choices``."""
    options = list(choices)
    close = difflib.get_close_matches(str(word), options, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"(expected one of: {', '.join(options)}){hint}"


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text, or a :class:`ProblemError` naming the file and saying why not.

    Line ends are kept as they are, so the text encodes back to the file's bytes
    (a checksum of it is a checksum of the file).
    """
    name = os.fspath(path)
    try:
        return Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        message = "file not found"
    except IsADirectoryError:
        message = "is a folder, not a file"
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start} cannot be decoded)"
    except OSError as exc:
        message = f"cannot read the file: {exc.strerror or exc}"
    raise ProblemError([Problem(Position(name), message)])
