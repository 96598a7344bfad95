"""YAML documents that remember where every key and value stands in the file.

Policies, IP-set lists and scenarios are YAML, and a refusal has to point at
the token that caused it. ruamel.yaml's round-trip loader keeps the line and
column of every key, value and list item; this module loads a document that
way and answers "where is this?" as a :class:`Position`.

Times are kept as the text that was written (YAML would otherwise turn an
unquoted ``2024-12-01T00:00:00`` into a datetime and lose whether it had an
offset), so :func:`policysim.policies.timestamps.parse_timestamp` reads every
time of every file the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

from policysim.policies.problems import Position, Problem, ProblemError

Key = str | int
"""A mapping key or a list index."""


class _TimesAsText(RoundTripConstructor):
    """The round-trip constructor, with YAML timestamps left as the text written."""


_TimesAsText.add_constructor("tag:yaml.org,2002:timestamp", _TimesAsText.construct_yaml_str)


def load_yaml(text: str, file: str) -> Any:
    """The document (mappings and lists carry positions); a syntax error is a
    :class:`ProblemError` at the place the YAML parser stopped."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _TimesAsText
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        problem = exc.problem or str(exc)
        raise ProblemError([Problem(where, f"not valid YAML: {problem}")]) from None
    except ReaderError as exc:  # a character YAML does not allow, e.g. a control character
        offset = max(exc.position, 0)
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        problem = f"not valid YAML: character {exc.character!r} is not allowed"
        raise ProblemError([Problem(Position(file, line, column), problem)]) from None


def position(file: str, node: Any, key: Key | None = None, *, of_key: bool = False) -> Position:
    """Where ``node[key]`` stands (or the key itself, with ``of_key``), or ``node`` itself.

    Falls back to the start of the file when YAML kept no position (a scalar
    has none of its own: ask its parent).
    """
    try:
        if key is None:
            line, column = node.lc.line, node.lc.col
        elif isinstance(node, CommentedSeq):
            line, column = node.lc.item(key)
        elif of_key:
            line, column = node.lc.key(key)
        else:
            line, column = node.lc.value(key)
    except (AttributeError, KeyError, IndexError, TypeError):
        return Position(file, 1, 1)
    if line is None or column is None:  # a node YAML gave no place, e.g. a bare `=`
        return Position(file, 1, 1)
    return Position(file, line + 1, column + 1)


def plain(value: Any) -> Any:
    """ruamel's commented containers and scalar subclasses (``ScalarFloat``...) as plain
    dicts, lists, floats, ints and strings, which is what msgspec converts."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    for exact in (bool, float, int, str):
        if isinstance(value, exact):
            return exact(value)
    return value


def kind(value: Any) -> str:
    """What a YAML value is, in words, for messages such as "must be a list, not a mapping"."""
    if isinstance(value, CommentedMap | dict):
        return "a mapping"
    if isinstance(value, CommentedSeq | list):
        return "a list"
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"true/false ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(getattr(value, "value", None), str):  # a tagged scalar such as a bare `=`
        return f"a tagged value ({value.value!r})"
    return f"{type(value).__name__} ({value!r})"
