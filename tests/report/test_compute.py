"""The report's numbers, recomputed independently from the verdict file with plain json."""

from __future__ import annotations

import json
import tracemalloc
from collections import Counter, defaultdict
from datetime import datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from report_verdicts import POLICIES, TIMEZONE, iter_verdicts, make_verdicts, write_verdict_file

from policysim.policies.model import encode
from policysim.report import ReportBuilder, ReportError, report_from_file
from policysim.report.builder import policy_order
from policysim.report.dedup import SeenVerdicts


@pytest.fixture(scope="module")
def verdict_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "verdicts.jsonl"
    return write_verdict_file(path, make_verdicts(4000, seed=11))


@pytest.fixture(scope="module")
def rows(verdict_file: Path) -> list[dict]:
    return [json.loads(line) for line in verdict_file.read_text().splitlines()]


@pytest.fixture(scope="module")
def report(verdict_file: Path) -> dict:
    return report_from_file(verdict_file, timezone=TIMEZONE)


def _policy(report: dict, name: str) -> dict:
    return next(p for p in report["policies"] if p["name"] == name)


def _unregistered_vpn(row: dict) -> bool:
    t = row["truth"]
    return t["is_vpn"] and not t.get("registered_at_event_time", False)


def test_report_matches_its_schema(report: dict) -> None:
    schema = json.loads(resources.files("policysim.report").joinpath("schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)


def test_policy_order_puts_the_enforced_policy_first(verdict_file: Path) -> None:
    assert policy_order(verdict_file)[0] == "deadline"
    assert sorted(policy_order(verdict_file)) == sorted(POLICIES)


def test_decision_counts_and_shares(report: dict, rows: list[dict]) -> None:
    assert report["totals"]["events"] == 4000
    assert report["totals"]["verdicts"] == len(rows)
    for name in POLICIES:
        mine = Counter(r["decision"] for r in rows if r["policy"] == name)
        got = _policy(report, name)["decisions"]
        for decision in ("allow", "flag", "block"):
            assert got[decision]["count"] == mine[decision]
            assert got[decision]["share"] == pytest.approx(mine[decision] / 4000)


def test_per_day_in_the_scenario_timezone(report: dict, rows: list[dict]) -> None:
    zone = ZoneInfo(TIMEZONE)
    mine: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        if r["policy"] == "strict":
            mine[datetime.fromtimestamp(r["ts"], zone).date().isoformat()][r["decision"]] += 1
    got = {row["day"]: row for row in _policy(report, "strict")["by_day"]}
    assert set(got) == set(mine)
    for day, counts in mine.items():
        assert (got[day]["allow"], got[day]["flag"], got[day]["block"]) == (
            counts["allow"],
            counts["flag"],
            counts["block"],
        )


def test_per_source_category(report: dict, rows: list[dict]) -> None:
    mine = Counter(
        (r.get("category") or "unregistered", r["decision"])
        for r in rows
        if r["policy"] == "lenient"
    )
    for row in _policy(report, "lenient")["by_category"]:
        for decision in ("allow", "flag", "block"):
            assert row[decision] == mine[(row["category"], decision)]


def test_confusion_precision_recall(report: dict, rows: list[dict]) -> None:
    for name in POLICIES:
        tp = fp = fn = 0
        for r in rows:
            if r["policy"] != name or "truth" not in r:
                continue
            hit = r["decision"] != "allow"
            positive = _unregistered_vpn(r)
            tp += hit and positive
            fp += hit and not positive
            fn += positive and not hit
        truth = _policy(report, name)["truth"]
        assert (truth["tp"], truth["fp"], truth["fn"]) == (tp, fp, fn)
        assert truth["precision"] == (tp / (tp + fp) if tp + fp else None)
        assert truth["recall"] == pytest.approx(tp / (tp + fn))
        without = sum(1 for r in rows if r["policy"] == name and "truth" not in r)
        assert truth["events_without_truth"] == without > 0


def test_collateral_damage_sources_and_entities(report: dict, rows: list[dict]) -> None:
    hurt = [
        r
        for r in rows
        if r["policy"] == "strict"
        and "truth" in r
        and r["decision"] != "allow"
        and not _unregistered_vpn(r)
    ]
    collateral = _policy(report, "strict")["truth"]["collateral"]
    assert collateral["events"] == len(hurt) > 0
    assert collateral["sources"] == len({r["src"] for r in hurt})
    assert collateral["entities"] == len({r["truth"].get("entity_id") for r in hurt} - {None})
    by_category = {row["category"]: row for row in collateral["by_category"]}
    households = [r for r in hurt if r["truth"].get("category") is None]
    assert by_category["(no entity)"]["events"] == len(households)
    assert by_category["(no entity)"]["sources"] == len({r["src"] for r in households})


def test_missed_unregistered_vpn(report: dict, rows: list[dict]) -> None:
    missed = [
        r
        for r in rows
        if r["policy"] == "lenient"
        and "truth" in r
        and r["decision"] == "allow"
        and _unregistered_vpn(r)
    ]
    got = _policy(report, "lenient")["truth"]["missed"]
    assert got["events"] == len(missed) > 0
    assert got["by_population_group"] == dict(
        Counter(r["truth"]["population_group"] for r in missed)
    )


def test_diff_against_the_enforced_policy(report: dict, rows: list[dict]) -> None:
    by_id: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        by_id[r["id"]][r["policy"]] = r
    for diff in report["diffs"]:
        transitions: Counter = Counter()
        earliest: dict[tuple, list] = defaultdict(list)
        for verdicts in by_id.values():
            a, b = verdicts["deadline"], verdicts[diff["shadow"]]
            if a["decision"] != b["decision"]:
                key = (
                    a["decision"],
                    a.get("rule") or "(default)",
                    b["decision"],
                    b.get("rule") or "(default)",
                )
                transitions[key] += 1
                earliest[key].append((a["ts"], a["id"]))
        assert diff["changed"] == sum(transitions.values()) > 0
        got = {
            (t["from_decision"], t["from_rule"], t["to_decision"], t["to_rule"]): t["count"]
            for t in diff["by_transition"]
        }
        assert got == dict(transitions)
        for t in diff["by_transition"]:
            key = (t["from_decision"], t["from_rule"], t["to_decision"], t["to_rule"])
            assert [(e["ts"], e["id"]) for e in t["examples"]] == sorted(earliest[key])[:3]
            for example in t["examples"]:
                a = by_id[example["id"]]["deadline"]
                assert a["decision"] == t["from_decision"]
                assert example["src_prefix"].endswith(("/24", "/48"))


def test_top_prefixes_are_aggregated(report: dict, rows: list[dict]) -> None:
    entry = next(e for e in _policy(report, "strict")["top_prefixes"] if e["rule"] == "block-vpn")
    mine: Counter = Counter()
    for r in rows:
        if r["policy"] == "strict" and r.get("rule") == "block-vpn":
            if ":" in r["src"]:
                mine[":".join(r["src"].split(":")[:3]) + "::/48"] += 1
            else:
                mine[".".join(r["src"].split(".")[:3]) + ".0/24"] += 1
    top = entry["sources"][0]
    assert top["count"] == max(mine.values())
    for item in entry["sources"]:
        assert mine[item["prefix"]] == item["count"]


def test_hourly_timeline_adds_up_and_adoption_grows(report: dict) -> None:
    line = report["timeline"]
    for p in report["policies"]:
        series = line["decisions"][p["name"]]
        for decision in ("allow", "flag", "block"):
            assert sum(series[decision]) == p["decisions"][decision]["count"]
    registered = line["adoption"]["registered"]
    assert registered == sorted(registered)
    assert 0 < registered[-1] <= line["adoption"]["entities"]
    phases = [ph["phase"] for ph in _policy(report, "deadline")["phases"]]
    assert phases == ["grace", "after"]


def test_adoption_from_registry_records(verdict_file: Path) -> None:
    start = 1732042800.0
    records = [
        {"entity_id": "a", "category": "bank", "registered_at": None},
        {"entity_id": "b", "category": "bank", "registered_at": start + 7200},
    ]
    got = report_from_file(verdict_file, timezone=TIMEZONE, registrations=records)
    adoption = got["timeline"]["adoption"]
    assert adoption["source"] == "registry"
    assert adoption["entities"] == 2
    assert adoption["registered"][0] == 1
    assert adoption["registered"][-1] == 2


def test_duplicates_missing_and_bad_lines_are_counted(tmp_path: Path) -> None:
    verdicts = make_verdicts(200, seed=3, batch=10)
    lenient_dropped = next(v for v in verdicts if v.policy == "lenient")
    kept = [v for v in verdicts if v is not lenient_dropped]
    lines = [encode(v) for v in kept]
    lines.insert(5, encode(kept[0]))
    lines.insert(7, b"{not json")
    path = tmp_path / "v.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    got = report_from_file(path, policy_names=list(POLICIES), timezone=TIMEZONE)
    totals = got["totals"]
    assert totals["duplicate_verdicts"] == 1
    assert totals["unreadable_verdict_lines"] == 1
    assert totals["events_missing_verdicts"] == {"lenient": 1}
    assert totals["verdicts"] == len(kept)
    assert got["diffs"][0]["events_compared"] == 199


def test_join_holds_only_open_events() -> None:
    builder = ReportBuilder(list(POLICIES), TIMEZONE)
    most_open = 0
    for v in make_verdicts(2000, seed=5, batch=25):
        builder.add(v)
        most_open = max(most_open, len(builder.diff.pending))
    assert most_open <= 25
    assert not builder.diff.pending


def test_unknown_policy_is_an_error() -> None:
    builder = ReportBuilder(["deadline"], TIMEZONE)
    with pytest.raises(ReportError, match="strict"):
        builder.add(next(v for v in make_verdicts(5) if v.policy == "strict"))


@pytest.mark.slow
def test_memory_does_not_grow_with_the_event_count() -> None:
    def peak(n_events: int) -> int:
        builder = ReportBuilder(list(POLICIES), TIMEZONE)
        builder.seen = _RemembersNothing()  # grows by design: test_dedup.py
        tracemalloc.start()
        try:
            builder.add_all(iter_verdicts(n_events, seed=9))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(5_000), peak(40_000)
    assert large < 1.3 * small, f"peak {small:,} bytes for 5,000 events, {large:,} for 40,000"


class _RemembersNothing(SeenVerdicts):
    def first_time(self, policy_index: int, event_id: str) -> bool:
        return True
