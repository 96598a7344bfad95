"""Reading IP sets from files: plain text lists and YAML lists, with per-line problems.

A bad line must not take the whole list down (a 600-line CIDR feed with one
typo should still load), but it must not vanish either: every problem comes
back as ``FILE:LINE: reason``, and ``strict=True`` turns any problem into a
:class:`SourceError` that lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from policysim.policies.ipset import IPSet
from policysim.policies.prefixes import Prefix, parse_prefix


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """One unusable input line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class SourceError(ValueError):
    """Input refused as a whole (strict mode, or unreadable), listing every problem."""

    def __init__(self, problems: list[SourceProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text, or a :class:`SourceError` naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError([SourceProblem(os.fspath(path), 0, f"cannot read: {exc}")]) from exc


def finish(problems: list[SourceProblem], strict: bool) -> list[SourceProblem]:
    """Raise in strict mode when anything went wrong; otherwise hand the problems back."""
    if strict and problems:
        raise SourceError(problems)
    return problems


def load_set_file(
    path: str | os.PathLike[str], strict: bool = False
) -> tuple[IPSet, list[SourceProblem]]:
    """One address or CIDR per line; ``#`` starts a comment; blank lines are skipped."""
    name = os.fspath(path)
    entries = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        text = line.partition("#")[0].strip()
        if text:
            entries.append((number, text))
    return _build(name, entries, strict)


def load_set_yaml(
    path: str | os.PathLike[str], strict: bool = False
) -> tuple[IPSet, list[SourceProblem]]:
    """A YAML list of addresses/CIDRs; line numbers come from the YAML node marks."""
    name = os.fspath(path)
    try:
        root = yaml.compose(read_text(path), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        raise SourceError([SourceProblem(name, line, f"not valid YAML: {exc}")]) from exc
    if root is None:
        return IPSet(), []
    if not isinstance(root, yaml.SequenceNode):
        problem = SourceProblem(name, root.start_mark.line + 1, "expected a YAML list of CIDRs")
        raise SourceError([problem])
    entries = []
    problems = []
    for node in root.value:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode) and node.value.strip():
            entries.append((line, node.value))
        else:
            problems.append(SourceProblem(name, line, "expected an address or CIDR text"))
    ipset, more = _build(name, entries, strict=False)
    return ipset, finish(sorted([*problems, *more], key=lambda p: p.line), strict)


def _build(
    name: str, entries: list[tuple[int, str]], strict: bool
) -> tuple[IPSet, list[SourceProblem]]:
    prefixes: list[Prefix] = []
    problems: list[SourceProblem] = []
    for line, text in entries:
        try:
            prefixes.append(parse_prefix(text))
        except ValueError as exc:
            problems.append(SourceProblem(name, line, str(exc)))
    return IPSet.from_prefixes(prefixes), finish(problems, strict)
