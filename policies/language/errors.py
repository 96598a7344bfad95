"""Problems found in a policy file, each pinned to ``FILE:LINE:COLUMN``.

A policy is refused with every problem listed, not only the first, so the
parser collects :class:`Problem` values and raises one :class:`PolicyError`
at the end. Warnings (from :mod:`policysim.policies.language.analysis`) use the same
value type so that editors and CI can parse both the same way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Position:
    """A place in a file; ``line`` and ``column`` count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Problem:
    """One error or warning at a position."""

    position: Position
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.position}: {prefix}{self.message}"


class PolicyError(ValueError):
    """A policy file that cannot be used; ``problems`` lists all that were found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
