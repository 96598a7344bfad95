"""Variants of a scenario: the same file with values replaced, checked like any scenario file.

``policysim sweep`` varies values named by dotted paths into the scenario's
YAML (``groups.freelancers.vpn_share=0.1,0.2``). Each variant is written out
as a scenario file of its own, comments and all, and loaded by
:func:`~policysim.simulators.scenario.load_scenario`: a value that the file
itself could not hold is refused by the very same checks, and any point of a
sweep can be run again alone (``policysim run FILE``).

Values are YAML, as in the file (``0.1``, ``true``, ``office``); the path
must lead through mappings and lists the file already has, so a mistyped
group is named instead of silently becoming a new one. Only its last key may
be new (a value the file leaves at its default), and the normal checks
refuse it if the scenario format has no such key.
"""

from __future__ import annotations

import io
import itertools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from policysim.app.errors import BadInput
from policysim.policies.problems import ProblemError, read_text, suggest
from policysim.policies.yamldoc import Key, kind, load_yaml, plain
from policysim.report.sweep import shown
from policysim.simulators.scenario import Scenario, ScenarioError, load_scenario


@dataclass(frozen=True)
class Parameter:
    """One ``--vary PATH=V1,V2,...``: where in the file, and the values it takes in turn."""

    path: str
    values: tuple[Any, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))


Point = tuple[Any, ...]
"""One value per parameter, in the order the parameters were given."""


def parse_vary(spec: str) -> Parameter:
    """``PATH=V1,V2,...`` as a :class:`Parameter`; a :class:`BadInput` names what is wrong."""
    path, equals, text = spec.partition("=")
    path = path.strip()
    if not equals or not path:
        raise BadInput(f"--vary {spec}: give PATH=V1,V2,... (e.g. groups.household.vpn_share=0.1)")
    if any(not key for key in path.split(".")):
        raise BadInput(f"--vary {spec}: {path!r} has an empty key; give keys joined by dots")
    texts = [t.strip() for t in text.split(",")]
    if not all(texts):
        raise BadInput(f"--vary {path}={text}: give one or more values, separated by commas")
    values = []
    for value_text in texts:
        try:
            values.append(plain(load_yaml(value_text, "--vary")))
        except ProblemError:
            raise BadInput(f"--vary {path}={value_text}: not a YAML value") from None
    if len(set(map(repr, values))) < len(values):
        raise BadInput(f"--vary {path}={text}: a value is given twice")
    return Parameter(path, tuple(values))


def grid(parameters: Sequence[Parameter]) -> list[Point]:
    """Every combination of the parameters' values; the first parameter changes slowest."""
    paths = [p.path for p in parameters]
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise BadInput(f"--vary {twice[0]} is given twice; give all its values in one --vary")
    for outer in paths:
        inner = next((p for p in paths if p.startswith(outer + ".")), None)
        if inner:
            raise BadInput(f"--vary {outer} holds --vary {inner}: vary one or the other")
    return list(itertools.product(*(p.values for p in parameters)))


@dataclass(frozen=True)
class Variant:
    """One point's scenario: the file's text, and the scenario it loads as."""

    text: str
    scenario: Scenario


def variants(path: Path, parameters: Sequence[Parameter], points: Sequence[Point]) -> list[Variant]:
    """The scenario file at ``path`` at each point, each checked as a scenario file.

    The file itself has been loaded (its own problems are refused at their
    ``FILE:LINE:COLUMN``); a path that leads nowhere in it, or a value the
    checks refuse, is a :class:`BadInput` naming the ``--vary`` at fault.
    The file is parsed once: every point sets every parameter, so each point
    overwrites the values of the one before.
    """
    text = read_text(path)
    doc = load_yaml(text, str(path))
    for parameter in parameters:
        _place(doc, parameter.keys)  # every way checked before any value is
    found = []
    with tempfile.TemporaryDirectory(prefix="policysim-sweep-") as folder:
        scratch = Path(folder) / path.name
        for point in points:
            varied = _with(doc, parameters, point)
            try:
                found.append(Variant(varied, _load(scratch, varied)))
            except ScenarioError:
                raise BadInput(_blame(text, parameters, point, scratch)) from None
    return found


def _place(doc: Any, keys: tuple[str, ...]) -> tuple[CommentedMap | CommentedSeq, Key]:
    """The container holding the value at ``keys``, and its key there; the way must exist."""
    node = doc
    for depth, key in enumerate(keys[:-1]):
        node = _child(node, key, keys[:depth])
    last = keys[-1]
    if isinstance(node, CommentedSeq):
        return node, _index(node, last, keys[:-1])
    if not isinstance(node, CommentedMap):
        raise _no_way(keys[:-1], f"is {kind(node)}, which holds no {last!r}")
    return node, last


def _child(node: Any, key: str, where: tuple[str, ...]) -> Any:
    if isinstance(node, CommentedSeq):
        return node[_index(node, key, where)]
    if not isinstance(node, CommentedMap):
        raise _no_way(where, f"is {kind(node)}, which holds no {key!r}")
    if key not in node:
        inside = f"in {'.'.join(where)}" if where else "at the top"
        raise _no_way(
            (*where, key), f"the scenario has no {key!r} {inside} {suggest(key, map(str, node))}"
        )
    return node[key]


def _index(node: CommentedSeq, key: str, where: tuple[str, ...]) -> int:
    if not key.isdigit() or int(key) >= len(node):
        raise _no_way((*where, key), f"the list holds items 0 to {len(node) - 1}")
    return int(key)


def _no_way(keys: tuple[str, ...], why: str) -> BadInput:
    return BadInput(f"--vary {'.'.join(keys)}: {why}".rstrip())


def _with(doc: Any, parameters: Sequence[Parameter], point: Point) -> str:
    """The text of ``doc`` with ``point``'s values set in it (``doc`` keeps them)."""
    for parameter, value in zip(parameters, point, strict=True):
        container, key = _place(doc, parameter.keys)
        container[key] = value
    yaml = YAML(typ="rt")
    yaml.width = 4096  # keep every line a line: no re-wrapping of long lists
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _load(file: Path, text: str) -> Scenario:
    file.write_text(text, encoding="utf-8")
    return load_scenario(file)


def _problems(file: Path, text: str, parameters: Sequence[Parameter], point: Point) -> list[str]:
    """What the scenario checks say of ``text`` with ``point``'s values (nothing: it loads)."""
    try:
        _load(file, _with(load_yaml(text, str(file)), parameters, point))
    except ScenarioError as exc:
        return [p.message for p in exc.problems]
    return []


def _blame(text: str, parameters: Sequence[Parameter], point: Point, scratch: Path) -> str:
    """One sentence naming the value at fault: alone if it fails alone, else the combination."""
    for parameter, value in zip(parameters, point, strict=True):
        alone = _problems(scratch, text, [parameter], (value,))
        if alone:
            return f"--vary {parameter.path}={shown(value)}: {'; '.join(alone)}"
    together = _problems(scratch, text, parameters, point)
    values = ", ".join(f"{p.path}={shown(v)}" for p, v in zip(parameters, point, strict=True))
    return f"--vary values {values} together: {'; '.join(together)}"
