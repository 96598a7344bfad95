"""Reading IP sets from files: plain text lists and YAML lists, with per-line problems.

A bad line must not take the whole list down (a 600-line CIDR feed with one
typo should still load), but it must not vanish either: every problem comes
back as ``FILE:LINE:COLUMN: reason``, and ``strict=True`` turns any problem into
a :class:`~policysim.policies.problems.ProblemError` that lists them all.
"""

from __future__ import annotations

import os

from ruamel.yaml.comments import CommentedSeq

from policysim.policies.ipset import IPSet
from policysim.policies.prefixes import Prefix, parse_prefix
from policysim.policies.problems import Position, Problem, ProblemError, read_text
from policysim.policies.yamldoc import kind, load_yaml, position

# The names this module used before every input shared one problem type.


def finish(problems: list[Problem], strict: bool) -> list[Problem]:
    """Raise in strict mode when anything went wrong; otherwise hand the problems back."""
    if strict and problems:
        raise ProblemError(problems)
    return problems


def load_set_file(
    path: str | os.PathLike[str], strict: bool = False
) -> tuple[IPSet, list[Problem]]:
    """One address or CIDR per line; ``#`` starts a comment; blank lines are skipped."""
    name = os.fspath(path)
    entries = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        text = line.partition("#")[0]
        if text.strip():
            column = len(text) - len(text.lstrip()) + 1
            entries.append((Position(name, number, column), text.strip()))
    return _build(entries, strict)


def load_set_yaml(
    path: str | os.PathLike[str], strict: bool = False
) -> tuple[IPSet, list[Problem]]:
    """A YAML list of addresses/CIDRs; positions come from the YAML document."""
    name = os.fspath(path)
    root = load_yaml(read_text(path), name)
    if root is None:
        return IPSet(), []
    if not isinstance(root, CommentedSeq):
        message = f"a set file in YAML must be a list of addresses or CIDRs, not {kind(root)}"
        raise ProblemError([Problem(position(name, root), message)])
    entries = []
    problems = []
    for index, item in enumerate(root):
        where = position(name, root, index)
        if isinstance(item, str) and item.strip():
            entries.append((where, item))
        else:
            problems.append(Problem(where, f"expected an address or CIDR, not {kind(item)}"))
    ipset, more = _build(entries, strict=False)
    return ipset, finish(sorted([*problems, *more]), strict)


def _build(entries: list[tuple[Position, str]], strict: bool) -> tuple[IPSet, list[Problem]]:
    prefixes: list[Prefix] = []
    problems: list[Problem] = []
    for where, text in entries:
        try:
            prefixes.append(parse_prefix(text))
        except ValueError as exc:
            problems.append(Problem(where, str(exc)))
    return IPSet.from_prefixes(prefixes), finish(problems, strict)
