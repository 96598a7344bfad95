"""Scenario files with values changed at random: loaded, or refused with problems in the file."""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML

from policysim.simulators.scenario import ScenarioError, load_scenario

_YAML = YAML(typ="rt")


def key_paths(text: str) -> list[tuple]:
    """Every key path of the YAML document ``text`` (dict keys and list indexes), for edits."""
    return _paths(_YAML.load(text))


def _paths(node: object, path: tuple = ()) -> list[tuple]:
    found = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*path, i))
    return found


def load_edited(text: str, edits: list, folder: Path) -> None:
    """Apply ``edits`` ((key path, value) pairs; a path that does not fit is skipped) to the
    scenario ``text`` and load it: it loads, or every problem names the file and a line."""
    doc = _YAML.load(text)
    for path, value in edits:
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    out = io.StringIO()
    _YAML.dump(doc, out)
    target = folder / "fuzzed.yaml"
    target.write_text(out.getvalue())
    try:
        load_scenario(target)
    except ScenarioError as exc:
        assert exc.problems
        assert all(p.file == str(target) and p.line >= 1 for p in exc.problems)
