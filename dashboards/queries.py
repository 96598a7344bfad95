"""The PromQL inside the generated dashboards, with Grafana's template variables filled in.

Both the snapshot renderer and the proof test read the queries from the dashboard JSON
itself (not from a second list), so that what they check and draw is exactly what
Grafana would run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class PanelQuery:
    """One query of one dashboard panel (or annotation), as Grafana stores it."""

    dashboard: str
    panel: str
    panel_type: str
    ref: str
    expr: str
    legend: str
    instant: bool
    unit: str

    @property
    def name(self) -> str:
        """``dashboard / panel / ref``: how a test or a log line names this query."""
        return f"{self.dashboard} / {self.panel} / {self.ref}"


def _panels(board: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(board: Mapping[str, Any]) -> list[PanelQuery]:
    """The queries of every panel of a dashboard, in layout order (rows have none)."""
    found = []
    for panel in _panels(board):
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        for target in panel.get("targets", []):
            found.append(
                PanelQuery(
                    dashboard=board["uid"],
                    panel=panel["title"],
                    panel_type=panel["type"],
                    ref=target["refId"],
                    expr=target["expr"],
                    legend=target.get("legendFormat", ""),
                    instant=bool(target.get("instant")),
                    unit=unit,
                )
            )
    return found


def annotation_queries(board: Mapping[str, Any]) -> list[PanelQuery]:
    """The Prometheus annotations of a dashboard, as queries named ``annotation``."""
    return [
        PanelQuery(
            dashboard=board["uid"],
            panel=f"annotation: {item['name']}",
            panel_type="annotation",
            ref="A",
            expr=item["expr"],
            legend="",
            instant=False,
            unit="",
        )
        for item in board.get("annotations", {}).get("list", [])
        if item.get("expr")
    ]


def fill(expr: str, values: Mapping[str, str]) -> str:
    """``expr`` with ``$name`` / ``${name}`` replaced as Grafana would.

    ``values`` must name every variable used, including Grafana's built-ins that a
    query uses (``__range``, ``__rate_interval``, ``__interval``); a missing one is an
    error rather than a silently broken query.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for dashboard variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(substitute, expr)


def legend_text(template: str, labels: Mapping[str, str]) -> str:
    """A series' legend: ``{{label}}`` placeholders filled in, as Grafana does."""
    if not template or template == "__auto":
        shown = {k: v for k, v in labels.items() if k != "__name__"}
        return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
