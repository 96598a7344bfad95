"""The house's arrows run one way: every module's imports are checked against the layers.

Layers, lowest first (a module may import its own package and any lower layer):

0. ``policysim`` (the version) and ``policysim.base``: settings, vocabulary, palette
1. ``policysim.policies``: the pure decision core
2. ``policysim.simulators``, ``policysim.streams``, ``policysim.dashboards``,
   ``policysim.report``: siblings that never import each other
3. ``policysim.app``: the use cases, composing the layer below
4. ``policysim.bench``: benchmarks, which drive the use cases
5. ``policysim.commands``: thin argparse front ends, none importing another
6. ``policysim.cli``: the console script
7. ``policysim.__main__``: ``python -m policysim``, the console script again

Imports inside functions count too: a lazy import is still an arrow. No two
modules may import each other, however indirectly.
"""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAYERS = {
    "policysim": 0,
    "policysim.base": 0,
    "policysim.policies": 1,
    "policysim.simulators": 2,
    "policysim.streams": 2,
    "policysim.dashboards": 2,
    "policysim.report": 2,
    "policysim.app": 3,
    "policysim.bench": 4,
    "policysim.commands": 5,
    "policysim.cli": 6,
    "policysim.__main__": 7,
}


def _modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name, from pyproject's folder mapping."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = config["package-dir"]
    found: dict[str, Path] = {}
    for package, folder in folders.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            # A folder mapped on its own (policysim.policies) is not part of policysim/'s walk.
            found.setdefault(name, path)
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The policysim modules ``name`` imports (``from X import y`` counts X.y when a module)."""
    is_package = path.name == "__init__.py"
    base = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                child = f"{module}.{alias.name}"
                targets.add(child if child in modules else module)
    return {t for t in targets if t in modules or t.split(".")[0] == "policysim"} - {name}


def _layer_of(name: str) -> tuple[str, int]:
    """The layer package holding ``name`` and its rank."""
    best = max((p for p in LAYERS if name == p or name.startswith(f"{p}.")), key=len)
    return best, LAYERS[best]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_module_has_a_layer() -> None:
    graph = _graph()
    assert graph, "no modules found"
    for name in graph:
        assert _layer_of(name)[0] != "policysim" or name == "policysim", f"{name} has no layer"


def test_no_module_imports_upward_or_sideways() -> None:
    wrong = []
    for name, targets in sorted(_graph().items()):
        package, rank = _layer_of(name)
        for target in sorted(targets):
            target_package, target_rank = _layer_of(target)
            if target_package == package:
                continue
            if target_rank >= rank:
                wrong.append(f"{name} imports {target} ({target_package} is not below {package})")
    assert not wrong, "\n".join(wrong)


# Not commands: flags the command modules share.
SHARED_BY_COMMANDS = {"policysim.commands", "policysim.commands.options"}


def test_no_command_imports_another() -> None:
    wrong = [
        f"{name} imports {target}"
        for name, targets in _graph().items()
        if name.startswith("policysim.commands.")
        for target in targets
        if target.startswith("policysim.commands.") and target not in SHARED_BY_COMMANDS
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components; any with two or more modules is a circle."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not circles, "\n".join(" <-> ".join(c) for c in circles)


def test_nothing_imports_the_folders_by_their_checkout_names() -> None:
    """``policies``, ``streams``, ... are folders here, never import names."""
    old = defaultdict(list)
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                head = node.module.split(".")[0]
            elif isinstance(node, ast.Import):
                head = node.names[0].name.split(".")[0]
            else:
                continue
            if head in {"policies", "simulators", "streams", "dashboards"}:
                old[name].append(head)
    assert not old, dict(old)
