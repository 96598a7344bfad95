"""Dashboards as code: render the Grafana JSON that is checked in and provisioned.

The JSON files in ``dashboards/grafana/dashboards`` are outputs of this module, kept in
the repository so that Grafana (and a reviewer) can read them without running Python;
``policysim dashboards generate --check`` and the tests keep them equal to the code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from policysim.dashboards import comparison, overview

OUTPUT_DIR = Path(__file__).resolve().parent / "grafana" / "dashboards"

#: File name in :data:`OUTPUT_DIR` -> the function that builds that dashboard.
DASHBOARDS: dict[str, Callable[[], dash.Dashboard]] = {
    "overview.json": overview.build,
    "comparison.json": comparison.build,
}


def as_dict(board: dash.Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model, with panel ids numbered in layout order."""
    data = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for number, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = number
    return data


def render(name: str) -> str:
    """The text of the checked-in file ``name``: stable key order, one trailing newline."""
    return json.dumps(as_dict(DASHBOARDS[name]()), indent=2, ensure_ascii=False) + "\n"


def write_all(out_dir: Path = OUTPUT_DIR) -> list[Path]:
    """Write every dashboard into ``out_dir`` and return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DASHBOARDS:
        path = out_dir / name
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path = OUTPUT_DIR) -> list[str]:
    """Names of the dashboards whose file in ``out_dir`` is missing or differs from the code."""
    differing = []
    for name in DASHBOARDS:
        path = out_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(name):
            differing.append(name)
    return differing
