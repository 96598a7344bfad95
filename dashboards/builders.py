"""Small wrappers around grafana-foundation-sdk so that each dashboard reads as a list of panels.

Every panel of the policysim dashboards is a Prometheus query over the worker metrics or
the recording rules in ``dashboards/prometheus/rules``; these helpers fix the things all
panels share (the provisioned data source, legends, units) in one place so the two
dashboards cannot drift apart in style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import heatmap, stat, table, timeseries
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from policysim.base.palette import DECISION_COLORS
from policysim.base.vocabulary import DECISIONS

#: The data source uid that ``dashboards/grafana/provisioning/datasources`` provisions.
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="policysim-prometheus")

#: The scrape job of the workers in ``dashboards/prometheus/prometheus.yml``.
WORKER_JOB = "policysim-worker"

#: Matches the worker instances picked in the dashboard's ``instance`` variable.
INSTANCE = 'instance=~"$instance"'

#: The decisions that act on traffic, as a PromQL regex: ``decision=~"flag|block"``.
ACTING_DECISIONS = "|".join(d for d in DECISIONS if d != "allow")

FULL_WIDTH = 24

PanelBuilder = Builder[model.Panel]


@dataclass(frozen=True)
class Query:
    """One PromQL target: the expression and the legend template Grafana shows for each series."""

    expr: str
    legend: str = ""
    instant: bool = False
    heatmap: bool = False
    table: bool = False


def targets(queries: Sequence[Query]) -> list[prom.Dataquery]:
    """SDK targets for ``queries``, with ref ids A, B, C, ... in order."""
    built = []
    for index, query in enumerate(queries):
        target = (
            prom.Dataquery()
            .expr(query.expr)
            .ref_id(chr(ord("A") + index))
            .datasource(DATASOURCE)
            .legend_format(query.legend or "__auto")
        )
        target = target.instant() if query.instant else target.range()
        if query.heatmap:
            target = target.format(PromQueryFormat.HEATMAP)
        if query.table:
            target = target.format(PromQueryFormat.TABLE)
        built.append(target)
    return built


def _legend(as_table: bool = False) -> common_builders.VizLegendOptions:
    mode = common.LegendDisplayMode.TABLE if as_table else common.LegendDisplayMode.LIST
    return (
        common_builders.VizLegendOptions()
        .display_mode(mode)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["mean", "lastNotNull"] if as_table else [])
    )


def time_series(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    *,
    width: int = 12,
    height: int = 8,
    stacked: bool = False,
) -> timeseries.Panel:
    """A line chart (stacked areas when ``stacked``) of ``queries``."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets(queries))
        .unit(unit)
        .span(width)
        .height(height)
        .legend(_legend(as_table=len(queries) > 2))
        .line_width(1)
        .fill_opacity(60 if stacked else 10)
    )
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if any(q.legend == "{{decision}}" for q in queries):
        for decision in DECISIONS:
            fixed = {"mode": "fixed", "fixedColor": DECISION_COLORS[decision]}
            panel = panel.override_by_name(decision, [model.DynamicConfigValue("color", fixed)])
    return panel


def single_stat(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    *,
    width: int = 6,
    height: int = 4,
) -> stat.Panel:
    """Big numbers: the last value of each series of ``queries``."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets(queries))
        .unit(unit)
        .span(width)
        .height(height)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
    )


def latency_heatmap(
    title: str, description: str, query: Query, *, width: int = 12, height: int = 8
) -> heatmap.Panel:
    """A heatmap of histogram bucket rates (``query`` must have ``heatmap=True``)."""
    return (
        heatmap.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets([query]))
        .span(width)
        .height(height)
        .calculate(False)
        .y_axis(heatmap.YAxisConfig().unit("s"))
        .color(heatmap.HeatmapColorOptions().scheme("Oranges").steps(64))
        .show_tooltip()
        .show_legend()
    )


def instant_table(
    title: str, description: str, queries: Sequence[Query], *, width: int = 12, height: int = 8
) -> table.Panel:
    """A table of instant values, one row per series and one column per label."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets(queries))
        .span(width)
        .height(height)
    )


def instance_variable() -> dash.QueryVariable:
    """The worker selector: all workers of the scrape job by default."""
    return (
        dash.QueryVariable("instance")
        .label("worker")
        .datasource(DATASOURCE)
        .query(f'label_values(up{{job="{WORKER_JOB}"}}, instance)')
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def policy_variable() -> dash.QueryVariable:
    """The policy selector, listing the enforced policy first so that it is the default.

    ``label_values`` would sort the names alphabetically; ranking the series instead
    (enforced 2, shadows 1) and keeping the query's order puts the enforced one on top.
    """
    ranked = (
        'sort_desc(max by (policy) (policysim_policy_info{enforced="true"}) * 2'
        " or max by (policy) (policysim_policy_info))"
    )
    return (
        dash.QueryVariable("policy")
        .label("policy")
        .datasource(DATASOURCE)
        .query(f"query_result({ranked})")
        .regex('/policy="([^"]+)"/')
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.DISABLED)
        .multi(False)
    )


def annotation(name: str, expr: str, color: str) -> dash.AnnotationQuery:
    """A Prometheus annotation: a marker wherever ``expr`` has a value."""
    return (
        dash.AnnotationQuery()
        .name(name)
        .datasource(DATASOURCE)
        .expr(expr)
        .icon_color(color)
        .enable(True)
    )


def dashboard(uid: str, title: str, description: str, tags: list[str]) -> dash.Dashboard:
    """A dashboard shell with the settings every policysim dashboard shares."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["policysim", *tags])
        .timezone("browser")
        .time("now-30m", "now")
        .refresh("10s")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .editable()
    )


def with_sections(board: dash.Dashboard, sections: dict[str, list[PanelBuilder]]) -> dash.Dashboard:
    """Add each section as a row heading followed by its panels, laid out left to right."""
    for title, panels in sections.items():
        board = board.with_row(dash.Row(title))
        for panel in panels:
            board = board.with_panel(panel)
    return board
