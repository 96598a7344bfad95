"""Every cause count of the report, recomputed from the raw verdicts and truth with plain json.

The recomputation below restates the table of docs/report.md on dicts; it
shares no code with policysim.report.causes, so a slip in either shows.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import jsonschema
import pytest
from truth_world import POLICIES, iter_verdicts

from policysim.base.vocabulary import COLLATERAL_CAUSES, MISS_CAUSES
from policysim.policies.model import Truth, Verdict, encode
from policysim.report import report_from_file
from policysim.report.causes import collateral_cause, miss_cause

TIMEZONE = "Asia/Karachi"
N_EVENTS = 4000


@pytest.fixture(scope="module")
def verdict_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("causes") / "verdicts.jsonl"
    path.write_bytes(b"".join(encode(v) + b"\n" for v in iter_verdicts(N_EVENTS, seed=5)))
    return path


@pytest.fixture(scope="module")
def rows(verdict_file: Path) -> list[dict]:
    return [json.loads(line) for line in verdict_file.read_text().splitlines()]


@pytest.fixture(scope="module")
def report(verdict_file: Path) -> dict:
    return report_from_file(verdict_file, list(POLICIES), TIMEZONE)


def _policy(report: dict, name: str) -> dict:
    return next(p for p in report["policies"] if p["name"] == name)


# The documented conditions, on plain dicts.


def _legitimate(t: dict) -> bool:
    if not t["is_vpn"]:
        return True
    if t.get("business_use") is not None:
        return t["business_use"]
    return t.get("registered_at_event_time", False)


def _address_registered(t: dict) -> bool:
    covered = t.get("address_registered_at_event_time")
    return t.get("registered_at_event_time", False) if covered is None else covered


def _shared(t: dict) -> bool:
    return (t.get("shared_by") or 1) > 1


def _miss(r: dict) -> tuple[str, str | None]:
    t, rule = r["truth"], r.get("rule")
    by_other = _address_registered(t) and not t.get("registered_at_event_time", False)
    if rule and r["decision"] == "allow" and by_other:
        return ("cgnat_shared_address" if _shared(t) else "reassigned_address"), None
    if rule is None:
        wrong_label = t.get("app") is not None and t["app"] != r.get("app")
        return ("classifier_label" if wrong_label else "other"), None
    return "rule_lets_through", rule


def _collateral(r: dict) -> str:
    t = r["truth"]
    registered = t.get("registered_at_event_time", False)
    if not t["is_vpn"]:
        return "classifier_false_positive"
    if r.get("category") or _address_registered(t):
        return "category_left_out"
    if t.get("registration_pending"):
        return "approval_delay"
    if registered and t.get("address_changed"):
        return "registrant_new_address"
    if registered and t.get("remote"):
        return "remote_staff"
    if _shared(t):
        return "cgnat_neighbour"
    if t.get("business_use"):
        return "unregistered_business_use"
    return "other"


MISS_VIEWS = {"block": {"allow", "flag"}, "flag_or_block": {"allow"}}
COLLATERAL_VIEWS = {"flag": {"flag"}, "block": {"block"}, "flag_or_block": {"flag", "block"}}


def _tally(rows: list[dict], policy: str) -> dict:
    """(kind, cause, rule, phase, view) -> [events, sources, entities], phase "all" included."""
    cells: dict = defaultdict(lambda: [0, set(), set()])
    for r in rows:
        if r["policy"] != policy or "truth" not in r:
            continue
        t = r["truth"]
        if _legitimate(t):
            if r["decision"] == "allow":
                continue
            kind, cause, rule, views = "collateral", _collateral(r), None, COLLATERAL_VIEWS
        else:
            if r["decision"] == "block":
                continue
            kind, views = "missed", MISS_VIEWS
            cause, rule = _miss(r)
        for view, decisions in views.items():
            if r["decision"] not in decisions:
                continue
            for phase in ("all", r.get("phase") or "(no phase)"):
                cell = cells[(kind, cause, rule, phase, view)]
                cell[0] += 1
                cell[1].add(r["src"])
                if t.get("entity_id"):
                    cell[2].add(t["entity_id"])
    return {key: (n, len(src), len(ent)) for key, (n, src, ent) in cells.items()}


def _reported(policy: dict) -> dict:
    """The report's cause rows in the same shape as :func:`_tally`, zeros left out."""
    out = {}
    for kind, views in (("missed", MISS_VIEWS), ("collateral", COLLATERAL_VIEWS)):
        for row in policy["causes"][kind]:
            parts = [("all", row)] + [(p["phase"], p) for p in row["by_phase"]]
            for phase, part in parts:
                for view in views:
                    cell = part[view]
                    if cell["events"]:
                        key = (kind, row["cause"], row.get("rule"), phase, view)
                        out[key] = (cell["events"], cell["sources"], cell["entities"])
    return out


@pytest.mark.parametrize("policy", POLICIES)
def test_every_cause_count_matches_a_recount_of_the_raw_verdicts(
    report: dict, rows: list[dict], policy: str
) -> None:
    assert _reported(_policy(report, policy)) == _tally(rows, policy)


def test_the_world_exercises_every_cause_but_other(report: dict, rows: list[dict]) -> None:
    seen = {(kind, cause) for p in POLICIES for kind, cause, *_ in _tally(rows, p)}
    for cause in MISS_CAUSES:
        assert ("missed", cause) in seen or cause == "other", cause
    for cause in COLLATERAL_CAUSES:
        assert ("collateral", cause) in seen or cause == "other", cause


@pytest.mark.parametrize("policy", POLICIES)
def test_views_count_flag_and_block_apart(report: dict, rows: list[dict], policy: str) -> None:
    mine = [r for r in rows if r["policy"] == policy and "truth" in r]
    views = _policy(report, policy)["truth"]["views"]
    for view, caught in COLLATERAL_VIEWS.items():
        tp = sum(1 for r in mine if not _legitimate(r["truth"]) and r["decision"] in caught)
        fp = sum(1 for r in mine if _legitimate(r["truth"]) and r["decision"] in caught)
        fn = sum(1 for r in mine if not _legitimate(r["truth"]) and r["decision"] not in caught)
        assert (views[view]["tp"], views[view]["fp"], views[view]["fn"]) == (tp, fp, fn)
        assert views[view]["recall"] == (tp / (tp + fn) if tp + fn else None)
    assert (
        _policy(report, policy)["truth"]["collateral"]["blocked"]
        + _policy(report, policy)["truth"]["collateral"]["flagged"]
        == views["flag_or_block"]["fp"]
    )


def test_per_phase_figures_add_up_to_the_whole(report: dict) -> None:
    strict = _policy(report, "strict")
    assert {p["phase"] for p in strict["by_phase"]} == {"trial", "after", "(no phase)"}
    for view in ("block", "flag", "flag_or_block"):
        for key in ("tp", "fp", "fn", "tn"):
            assert (
                sum(p["views"][view][key] for p in strict["by_phase"])
                == strict["truth"]["views"][view][key]
            )


def test_who_is_hit_ranks_entities_by_collateral(report: dict, rows: list[dict]) -> None:
    hit: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        t = r.get("truth")
        wrongful = t and _legitimate(t) and r["decision"] != "allow"
        if r["policy"] == "deadline" and wrongful and t.get("entity_id"):
            hit[t["entity_id"]][r["decision"] == "block"] += 1
    ranked = sorted(hit.items(), key=lambda kv: (-sum(kv[1]), kv[0]))[:10]
    got = _policy(report, "deadline")["who_is_hit"]
    assert [(e["entity_id"], e["flag"], e["block"]) for e in got["entities"]] == [
        (entity, flag, block) for entity, (flag, block) in ranked
    ]
    assert got["names"] == "unavailable"


def test_names_come_from_the_registry_when_given(verdict_file: Path) -> None:
    registrations = [{"entity_id": f"e{k}", "name": f"Firm {k}", "category": "it_company",
                      "registered_at": None} for k in range(150)]  # fmt: skip
    got = report_from_file(verdict_file, list(POLICIES), TIMEZONE, registrations=registrations)
    entities = _policy(got, "deadline")["who_is_hit"]["entities"]
    assert entities and all(e["name"] == f"Firm {e['entity_id'][1:]}" for e in entities)


def test_report_of_the_realistic_world_matches_its_schema(report: dict) -> None:
    from importlib import resources

    schema = json.loads(resources.files("policysim.report").joinpath("schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)


def _verdict(decision: str, rule: str | None, app: str | None = "wireguard",
             category: str | None = None) -> Verdict:  # fmt: skip
    return Verdict(id="x", ts=0.0, policy="p", policy_version=1, decision=decision, rule=rule,
                   phase=None, registry_version=1, category=category, src="39.1.2.3",
                   app=app)  # fmt: skip


@pytest.mark.parametrize(
    ("truth", "verdict", "cause"),
    [
        (Truth(is_vpn=True, business_use=False, address_registered_at_event_time=True, shared_by=9),
         _verdict("allow", "registered-source", category="bank"), "cgnat_shared_address"),
        (Truth(is_vpn=True, business_use=False, address_registered_at_event_time=True),
         _verdict("allow", "registered-source", category="bank"), "reassigned_address"),
        (Truth(is_vpn=True, app="openvpn"), _verdict("allow", None, app="ssl"), "classifier_label"),
        (Truth(is_vpn=True, app="openvpn"), _verdict("allow", None, app=None), "classifier_label"),
        (Truth(is_vpn=True), _verdict("flag", "unregistered-vpn"), "rule_lets_through"),
        (Truth(is_vpn=True, registered_at_event_time=True, business_use=False),
         _verdict("allow", "registered-source"), "rule_lets_through"),
        (Truth(is_vpn=True, app="shadowsocks"), _verdict("allow", None, app="shadowsocks"),
         "other"),
    ],
)  # fmt: skip
def test_miss_causes(truth: Truth, verdict: Verdict, cause: str) -> None:
    assert miss_cause(truth, verdict) == cause


@pytest.mark.parametrize(
    ("truth", "verdict", "cause"),
    [
        (Truth(is_vpn=False, shared_by=30), _verdict("block", "vpn"), "classifier_false_positive"),
        (Truth(is_vpn=True, registered_at_event_time=True), _verdict("block", "vpn",
         category="university"), "category_left_out"),
        (Truth(is_vpn=True, business_use=True, address_registered_at_event_time=True),
         _verdict("flag", "vpn"), "category_left_out"),
        (Truth(is_vpn=True, business_use=True, registration_pending=True, shared_by=4),
         _verdict("block", "vpn"), "approval_delay"),
        (Truth(is_vpn=True, registered_at_event_time=True, address_registered_at_event_time=False,
               address_changed=True), _verdict("block", "vpn"), "registrant_new_address"),
        (Truth(is_vpn=True, registered_at_event_time=True, address_registered_at_event_time=False,
               remote=True), _verdict("flag", "vpn"), "remote_staff"),
        (Truth(is_vpn=True, business_use=True, shared_by=16), _verdict("block", "vpn"),
         "cgnat_neighbour"),
        (Truth(is_vpn=True, business_use=True), _verdict("block", "vpn"),
         "unregistered_business_use"),
        (Truth(is_vpn=True, registered_at_event_time=True, address_registered_at_event_time=False),
         _verdict("block", "vpn"), "other"),
    ],
)  # fmt: skip
def test_collateral_causes(truth: Truth, verdict: Verdict, cause: str) -> None:
    assert truth.legitimate()
    assert collateral_cause(truth, verdict) == cause


def test_the_report_does_not_depend_on_the_order_verdicts_arrive(
    verdict_file: Path, report: dict, tmp_path: Path
) -> None:
    """A stream interleaves partitions, the offline engine goes in event order: same report."""
    lines = verdict_file.read_bytes().splitlines(keepends=True)
    random.Random(3).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_bytes(b"".join(lines))
    again = report_from_file(shuffled, list(POLICIES), TIMEZONE)
    for key in ("totals", "headline", "policies", "diffs"):
        assert json.dumps(again[key]) == json.dumps(report[key]), key
