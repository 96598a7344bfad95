"""The dashboards as code: checked-in JSON equals the code, and every query reads real names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.registry import CollectorRegistry
from ruamel.yaml import YAML

from policysim.cli import main
from policysim.dashboards import generate
from policysim.dashboards.builders import DATASOURCE
from policysim.dashboards.queries import annotation_queries, fill, legend_text, panel_queries
from policysim.streams.metrics import WorkerMetrics

_yaml = YAML(typ="safe")

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "dashboards" / "prometheus" / "rules"


def boards() -> list[dict]:
    return [json.loads((generate.OUTPUT_DIR / name).read_text()) for name in generate.DASHBOARDS]


def recorded_names() -> set[str]:
    names = set()
    for path in RULES.glob("*.yml"):
        for group in _yaml.load(path.read_text())["groups"]:
            names |= {rule["record"] for rule in group["rules"] if "record" in rule}
    return names


def exported_names() -> set[str]:
    """Every sample name a worker exports (counters with _total, histograms with _bucket ...)."""
    registry = CollectorRegistry()
    WorkerMetrics(registry)
    names = {"up"}
    for family in registry.collect():
        names.add(family.name)
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
        }.get(family.type, ())
        names |= {family.name + s for s in suffixes}
    return names


def test_checked_in_dashboards_equal_the_code() -> None:
    assert generate.stale() == [], "run `policysim dashboards generate`"


def test_generate_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "generate", "--check", "--out", str(tmp_path)]) == 1
    assert main(["dashboards", "generate", "--out", str(tmp_path)]) == 0
    assert main(["dashboards", "generate", "--check", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(generate.DASHBOARDS)
    (tmp_path / "overview.json").write_text("{}\n")
    assert main(["dashboards", "generate", "--check", "--out", str(tmp_path)]) == 1
    assert "overview.json: differs from the code" in capsys.readouterr().out


def test_every_query_reads_exported_metrics_or_recording_rules() -> None:
    known = exported_names() | recorded_names()
    for board in boards():
        for query in panel_queries(board) + annotation_queries(board):
            names = set(re.findall(r"\b(policysim[:_][\w:]*|up)\b", query.expr))
            assert names, query.name
            assert names <= known, f"{query.name}: unknown {sorted(names - known)}"


def test_recording_and_alert_rules_read_exported_metrics() -> None:
    known = exported_names() | recorded_names()
    for path in RULES.glob("*.yml"):
        for group in _yaml.load(path.read_text())["groups"]:
            for rule in group["rules"]:
                names = set(re.findall(r"\b(policysim[:_][\w:]*|up)\b", rule["expr"]))
                unknown = names - known
                assert not unknown, f"{path.name} {rule.get('record') or rule['alert']}: {unknown}"


def test_panels_use_the_provisioned_datasource_and_the_dashboard_variables() -> None:
    provisioned = _yaml.load(
        (ROOT / "dashboards/grafana/provisioning/datasources/policysim.yml").read_text()
    )["datasources"]
    assert [d["uid"] for d in provisioned] == [DATASOURCE.uid]
    for board in boards():
        declared = {v["name"] for v in board["templating"]["list"]}
        queries = panel_queries(board)
        assert len(queries) >= 10
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == DATASOURCE.uid, panel["title"]
                assert panel["targets"], panel["title"]
        for query in queries:
            used = set(re.findall(r"\$(\w+)", query.expr)) - {"__range"}
            assert used <= declared, f"{query.name}: undeclared {used - declared}"


def test_overview_has_the_panels_the_issue_asks_for() -> None:
    overview = json.loads((generate.OUTPUT_DIR / "overview.json").read_text())
    titles = {p["title"] for p in overview["panels"]}
    for wanted in (
        "Events per second by decision",
        "Flagged and blocked share",
        "Verdicts by rule",
        "Flagged and blocked by rule",
        "Verdicts by source category",
        "Registry version",
        "Rejected events by reason",
        "End-to-end latency",
        "Decision latency",
        "End-to-end latency distribution",
        "Consumer lag per partition",
        "Workers up",
    ):
        assert wanted in titles
    types = {p["title"]: p["type"] for p in overview["panels"]}
    assert types["End-to-end latency distribution"] == "heatmap"
    assert {"policy", "instance"} <= {v["name"] for v in overview["templating"]["list"]}
    markers = {a["name"] for a in overview["annotations"]["list"]}
    assert "Policy version in force" in markers
    assert "Rule decision began (deadline)" in markers


def test_fill_replaces_every_variable_and_refuses_unknown_ones() -> None:
    expr = 'sum(x{policy="$policy", instance=~"${instance}"}[$__range])'
    filled = fill(expr, {"policy": "p", "instance": ".*", "__range": "300s"})
    assert filled == 'sum(x{policy="p", instance=~".*"}[300s])'
    with pytest.raises(KeyError, match=r"\$policy"):
        fill(expr, {"instance": ".*"})


def test_legend_text_fills_labels_like_grafana() -> None:
    labels = {"__name__": "m", "rule": "unregistered-vpn", "decision": "block"}
    assert legend_text("{{rule}} → {{ decision }}", labels) == "unregistered-vpn → block"
    assert legend_text("__auto", labels) == "decision=block, rule=unregistered-vpn"
