"""Draw the Enforcement overview without Grafana: each panel's queries as a matplotlib chart.

An analyst without a Grafana, or the README, gets the same picture the dashboard shows,
because the queries come from the generated dashboard JSON (:mod:`policysim.dashboards.queries`)
and are run against the same Prometheus. One PNG per panel plus ``overview.png`` with
every panel on one page.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from policysim.base.palette import DECISION_COLORS
from policysim.base.vocabulary import DECISIONS
from policysim.dashboards.promapi import Prometheus
from policysim.dashboards.queries import PanelQuery, fill, legend_text, panel_queries

#: Ranks the loaded policies so that the enforced one comes first (as the dashboard's variable).
RANKED_POLICIES = (
    'sort_desc(max by (policy) (policysim_policy_info{enforced="true"}) * 2'
    " or max by (policy) (policysim_policy_info))"
)


@dataclass
class Series:
    """One series of a query result: its legend and its samples."""

    legend: str
    times: np.ndarray
    values: np.ndarray


@dataclass
class PanelData:
    """A panel's title, type, unit and the series its queries returned."""

    title: str
    panel_type: str
    unit: str
    stacked: bool
    series: list[Series]


def enforced_policy(prometheus: Prometheus) -> str | None:
    """The policy the dashboard's ``policy`` variable starts on, or None before any worker."""
    result = prometheus.query(RANKED_POLICIES)
    ranked = sorted(result, key=lambda item: -float(item["value"][1]))
    return ranked[0]["metric"]["policy"] if ranked else None


def variable_values(policy: str, window_seconds: float) -> dict[str, str]:
    """Values for the dashboards' variables and the Grafana built-ins their queries use."""
    return {
        "policy": policy,
        "instance": ".*",
        "__range": f"{int(window_seconds)}s",
        "__rate_interval": "1m",
        "__interval": "15s",
    }


def _series(query: PanelQuery, result: Sequence[Mapping[str, Any]]) -> list[Series]:
    found = []
    for item in result:
        samples = item.get("values") or [item["value"]]
        times = np.array([float(t) for t, _ in samples])
        values = np.array([float(v) for _, v in samples])
        found.append(Series(legend_text(query.legend, item["metric"]), times, values))
    return found


def _stacked(panel: Mapping[str, Any]) -> bool:
    custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
    return custom.get("stacking", {}).get("mode") == "normal"


def collect(
    prometheus: Prometheus,
    board: Mapping[str, Any],
    values: Mapping[str, str],
    start: float,
    end: float,
) -> list[PanelData]:
    """Run every panel query of ``board`` over ``[start, end]`` and group the series by panel."""
    step = max((end - start) / 240, 1.0)
    panels: dict[str, PanelData] = {}
    stacked = {p["title"] for p in board.get("panels", []) if _stacked(p)}
    for query in panel_queries(board):
        expr = fill(query.expr, values)
        if query.instant:
            result = prometheus.query(expr, at=end)
        else:
            result = prometheus.query_range(expr, start, end, step)
        data = panels.setdefault(
            query.panel,
            PanelData(query.panel, query.panel_type, query.unit, query.panel in stacked, []),
        )
        data.series.extend(_series(query, result))
    return list(panels.values())


def format_value(value: float, unit: str) -> str:
    """A number as Grafana would label it for the few units the dashboards use."""
    if math.isnan(value):
        return "NaN"
    if unit == "percentunit":
        return f"{value * 100:.3g} %"
    if unit == "s":
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    if unit == "ops":
        return f"{value:,.1f}/s" if abs(value) >= 10 else f"{value:.3g}/s"
    if unit == "bytes":
        for scale, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= scale:
                return f"{value / scale:.1f} {name}"
        return f"{value:.0f} B"
    return f"{value:,.6g}"


def _time_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _on_common_times(series: Sequence[Series]) -> tuple[np.ndarray, list[np.ndarray]]:
    """All series on the union of their timestamps, 0 where a series has no sample (stacking)."""
    times = np.unique(np.concatenate([s.times for s in series]))
    aligned = []
    for item in series:
        values = np.zeros(len(times))
        values[np.searchsorted(times, item.times)] = np.nan_to_num(item.values)
        aligned.append(values)
    return times, aligned


def _decision_order(series: Series) -> int:
    """allow, flag, block first and in that order (stacked bottom to top), then the rest."""
    order = list(DECISIONS)
    return order.index(series.legend) if series.legend in order else len(order)


def _draw_timeseries(ax: Axes, data: PanelData) -> None:
    series = sorted(data.series, key=_decision_order)
    colors = [DECISION_COLORS.get(s.legend) for s in series]
    if data.stacked:
        times, values = _on_common_times(series)
        labels = [s.legend for s in series]
        ax.stackplot(
            times.astype("datetime64[s]"),
            *values,
            labels=labels,
            colors=colors if all(colors) else None,
        )
    else:
        for item, color in zip(series, colors, strict=True):
            stamps = item.times.astype("datetime64[s]")
            ax.plot(stamps, item.values, label=item.legend, linewidth=1.2, color=color)
    _time_axis(ax)
    ax.yaxis.set_major_formatter(lambda v, _pos: format_value(v, data.unit))
    ax.legend(fontsize=6, loc="upper left", ncol=2 if len(data.series) > 4 else 1)
    ax.grid(alpha=0.3)


def _draw_stat(ax: Axes, data: PanelData) -> None:
    ax.axis("off")
    lines = [f"{s.legend}: {format_value(s.values[-1], data.unit)}" for s in data.series]
    ax.text(0.5, 0.5, "\n".join(lines), ha="center", va="center", fontsize=11, wrap=True)


def _draw_heatmap(ax: Axes, data: PanelData) -> None:
    # Bucket rates are cumulative (le = "less or equal"); the cells are the differences.
    ordered = sorted(data.series, key=lambda s: float(s.legend))
    uppers = [s.legend for s in ordered]
    length = min(len(s.values) for s in ordered)
    cumulative = np.array([s.values[:length] for s in ordered])
    cells = np.diff(cumulative, axis=0, prepend=0.0)
    stamps = np.array(ordered[0].times[:length], dtype="datetime64[s]")
    ax.pcolormesh(stamps, np.arange(len(uppers)), cells, cmap="Oranges", shading="nearest")
    ax.set_yticks(np.arange(len(uppers)), [f"≤{u}" for u in uppers], fontsize=6)
    _time_axis(ax)


def _draw_table(ax: Axes, data: PanelData) -> None:
    ax.axis("off")
    rows = [[s.legend, format_value(s.values[-1], data.unit)] for s in data.series]
    table = ax.table(cellText=rows, colLabels=["series", "value"], loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.auto_set_column_width([0, 1])


_DRAW = {
    "timeseries": _draw_timeseries,
    "stat": _draw_stat,
    "heatmap": _draw_heatmap,
    "table": _draw_table,
}


def draw(ax: Axes, data: PanelData) -> None:
    """Draw one panel into ``ax`` (a note instead when its queries returned nothing)."""
    ax.set_title(data.title, fontsize=9)
    if not data.series:
        ax.axis("off")
        ax.text(0.5, 0.5, "no data", ha="center", va="center", color="grey")
        return
    _DRAW[data.panel_type](ax, data)


def slug(title: str) -> str:
    """A file name for a panel title."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def render(panels: Sequence[PanelData], out_dir: Path, title: str) -> list[Path]:
    """One PNG per panel and ``overview.png`` with all of them; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for number, data in enumerate(panels, start=1):
        fig = Figure(figsize=(7, 3.2), dpi=100, layout="constrained")
        draw(fig.add_subplot(), data)
        path = out_dir / f"{number:02d}-{slug(data.title)}.png"
        fig.savefig(path)
        written.append(path)
    columns = 3
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(15, 2.9 * rows), dpi=80, layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, data in zip(axes.flat, panels, strict=False):
        draw(ax, data)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"{title} — {time.strftime('%Y-%m-%d %H:%M %Z')}", fontsize=12)
    path = out_dir / "overview.png"
    fig.savefig(path)
    written.append(path)
    return written
