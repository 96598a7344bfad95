"""Per-policy tallies folded one verdict at a time.

A report must be exact, so it counts verdicts rather than reading metrics;
and a run may hold millions of them, so nothing here keeps a verdict. Every
tally is keyed by something bounded by the scenario, not by the event count
(decisions, days, hours, categories, rules, /24 and /48 prefixes, sources and
entities hit by mistake), so memory stays flat as the event count grows.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from policysim.base.vocabulary import DECISIONS, TRUTH_LABELS
from policysim.policies.addresses import format_ip, parse_ip
from policysim.policies.model import Verdict
from policysim.report.causes import should_stop
from policysim.report.impact import ImpactTally

DECISION_INDEX = {name: i for i, name in enumerate(DECISIONS)}
UNREGISTERED = "unregistered"
NO_ENTITY = "(no entity)"
DEFAULT_RULE = "(default)"
TOP_PREFIXES = 10


@lru_cache(maxsize=1 << 16)
def prefix_of(address: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) holding ``address``: coarse enough to name no subscriber."""
    version, value = parse_ip(address)
    if version == 4:
        return f"{format_ip((4, value >> 8 << 8))}/24"
    return f"{format_ip((6, value >> 80 << 80))}/48"


class LocalCalendar:
    """Maps epoch seconds to the scenario's local day, cached per quarter hour.

    Every time zone's UTC offset is a multiple of 15 minutes, so all the
    seconds of one quarter hour share a local date and one ``fromtimestamp``
    call serves them all.
    """

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self._days: dict[int, str] = {}

    def day(self, ts: float) -> str:
        quarter = int(ts // 900)
        found = self._days.get(quarter)
        if found is None:
            found = datetime.fromtimestamp(quarter * 900, self.zone).date().isoformat()
            self._days[quarter] = found
        return found


def _counts() -> list[int]:
    return [0, 0, 0]


def _shares(counts: list[int]) -> dict[str, dict[str, float | int]]:
    total = sum(counts)
    return {
        name: {"count": counts[i], "share": counts[i] / total if total else 0.0}
        for i, name in enumerate(DECISIONS)
    }


def _row(key_name: str, key: str, counts: list[int]) -> dict:
    total = sum(counts)
    row: dict = {key_name: key, "total": total}
    for i, name in enumerate(DECISIONS):
        row[name] = counts[i]
        row[f"{name}_share"] = counts[i] / total if total else 0.0
    return row


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


class _Collateral:
    """Traffic hit by mistake in one category: events, and who was behind them."""

    __slots__ = ("block", "entities", "flag", "non_vpn", "registered", "sources")

    def __init__(self) -> None:
        self.flag = 0
        self.block = 0
        self.registered = 0
        self.non_vpn = 0
        self.sources: set[str] = set()
        self.entities: set[str] = set()


class PolicyTally:
    """Everything the report says about one policy, folded verdict by verdict."""

    def __init__(self, name: str, calendar: LocalCalendar) -> None:
        self.name = name
        self.calendar = calendar
        self.versions: set[int] = set()
        self.enforced: set[bool] = set()
        self.registry_versions: set[int] = set()
        self.decisions = _counts()
        self.by_day: dict[str, list[int]] = {}
        self.by_category: dict[str, list[int]] = {}
        self.by_rule: Counter[tuple[str, str]] = Counter()
        self.hourly: dict[int, list[int]] = {}
        self.phases: dict[str, list[float]] = {}
        self.confusion: dict[str, list[int]] = {label: _counts() for label in TRUTH_LABELS}
        self.without_truth = 0
        self.collateral: dict[str, _Collateral] = {}
        self.missed_by_group: Counter[str] = Counter()
        self.missed_by_app: Counter[str] = Counter()
        self.missed_sources: set[str] = set()
        self.rule_sources: dict[tuple[str, str], Counter[str]] = {}
        self.rule_destinations: dict[tuple[str, str], Counter[str]] = {}
        self.impact = ImpactTally()

    def add(self, v: Verdict) -> None:
        d = DECISION_INDEX[v.decision]
        self.versions.add(v.policy_version)
        self.enforced.add(v.enforced)
        self.registry_versions.add(v.registry_version)
        self.decisions[d] += 1
        self._bucket(self.by_day, self.calendar.day(v.ts))[d] += 1
        self._bucket(self.by_category, v.category or UNREGISTERED)[d] += 1
        self._bucket(self.hourly, int(v.ts // 3600) * 3600)[d] += 1
        rule = v.rule or DEFAULT_RULE
        self.by_rule[(rule, v.decision)] += 1
        if v.phase is not None:
            self._phase(v.phase, v.ts)
        if d and (v.src or v.dst):
            self._prefixes(rule, v)
        self._truth(v, d)

    @staticmethod
    def _bucket(table: dict, key) -> list[int]:
        found = table.get(key)
        if found is None:
            found = table[key] = _counts()
        return found

    def _phase(self, phase: str, ts: float) -> None:
        span = self.phases.get(phase)
        if span is None:
            self.phases[phase] = [ts, ts, 1]
        else:
            span[0] = min(span[0], ts)
            span[1] = max(span[1], ts)
            span[2] += 1

    def _prefixes(self, rule: str, v: Verdict) -> None:
        key = (rule, v.decision)
        if v.src:
            self.rule_sources.setdefault(key, Counter())[prefix_of(v.src)] += 1
        if v.dst:
            self.rule_destinations.setdefault(key, Counter())[prefix_of(v.dst)] += 1

    def _truth(self, v: Verdict, d: int) -> None:
        truth = v.truth
        if truth is None:
            self.without_truth += 1
            return
        self.confusion[truth.label()][d] += 1
        self.impact.add(v, truth, d)
        stop = should_stop(truth)
        if d and not stop:
            cell = self.collateral.get(truth.category or NO_ENTITY)
            if cell is None:
                cell = self.collateral[truth.category or NO_ENTITY] = _Collateral()
            if d == 1:
                cell.flag += 1
            else:
                cell.block += 1
            if truth.registered_at_event_time:
                cell.registered += 1
            elif not truth.is_vpn:
                cell.non_vpn += 1
            if v.src:
                cell.sources.add(v.src)
            if truth.entity_id:
                cell.entities.add(truth.entity_id)
        elif not d and stop:
            self.missed_by_group[truth.population_group or "(unknown)"] += 1
            self.missed_by_app[v.app or "(unknown)"] += 1
            if v.src:
                self.missed_sources.add(v.src)

    def result(
        self, declared_rules: list[dict] | None = None, names: dict[str, str | None] | None = None
    ) -> dict:
        """The policy's section of report.json.

        ``declared_rules`` (the policy file's rules, in order) lists rules that
        decided nothing too; ``names`` (entity id to name, from the registry)
        names whoever was hit.
        """
        return {
            "name": self.name,
            "versions": sorted(self.versions),
            "enforced": True in self.enforced,
            "registry_versions": sorted(self.registry_versions),
            "events": sum(self.decisions),
            "decisions": _shares(self.decisions),
            "by_day": [_row("day", k, c) for k, c in sorted(self.by_day.items())],
            "by_category": [
                _row("category", k, c)
                for k, c in sorted(self.by_category.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
            ],
            "rules": [
                {"rule": rule, "decision": decision, "count": count}
                for (rule, decision), count in sorted(
                    self.by_rule.items(), key=lambda kv: (-kv[1], kv[0][0] or "", kv[0][1])
                )
            ],
            "phases": [
                {"phase": name, "first_ts": span[0], "last_ts": span[1], "events": int(span[2])}
                for name, span in sorted(self.phases.items(), key=lambda kv: kv[1][0])
            ],
            "rule_summary": self._rule_summary(declared_rules),
            "truth": self._truth_result(),
            "by_phase": self.impact.quality_result()["by_phase"],
            "causes": self.impact.causes_result(),
            "who_is_hit": self.impact.who_is_hit(names),
            "top_prefixes": self._prefix_result(),
        }

    def _rule_summary(self, declared: list[dict] | None) -> dict:
        """Every rule and what it decided, 0 included (when the policy's rules are known)."""
        seen = [rule for rule, _ in self.by_rule]
        order = [r["id"] for r in declared or []]
        order += [DEFAULT_RULE] if DEFAULT_RULE not in order else []
        order += sorted({rule for rule in seen if rule not in order})
        then = {r["id"]: r["then"] for r in declared or []}
        rows = []
        for rule in order:
            counts = {d: self.by_rule[(rule, d)] for d in DECISIONS}
            rows.append(
                {"rule": rule, "declared": then.get(rule), **counts, "events": sum(counts.values())}
            )
        return {"rules_known": declared is not None, "rules": rows}

    def _truth_result(self) -> dict:
        c = self.confusion
        views = self.impact.quality_result()["views"]
        either = views["flag_or_block"]
        tp, fp, fn, tn = either["tp"], either["fp"], either["fn"], either["tn"]
        precision, recall = either["precision"], either["recall"]
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall
            else None
        )
        collateral_rows = [
            {
                "category": name,
                "flag": cell.flag,
                "block": cell.block,
                "events": cell.flag + cell.block,
                "registered_events": cell.registered,
                "non_vpn_unregistered_events": cell.non_vpn,
                "sources": len(cell.sources),
                "entities": len(cell.entities),
            }
            for name, cell in sorted(self.collateral.items(), key=lambda kv: kv[0])
        ]
        collateral_rows.sort(key=lambda row: -row["events"])
        all_sources = set().union(*(cell.sources for cell in self.collateral.values()))
        all_entities = set().union(*(cell.entities for cell in self.collateral.values()))
        return {
            "events_with_truth": sum(sum(row) for row in c.values()),
            "events_without_truth": self.without_truth,
            "confusion": {label: dict(zip(DECISIONS, c[label], strict=True)) for label in c},
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "views": views,
            "collateral": {
                "events": fp,
                "flagged": views["flag"]["fp"],
                "blocked": views["block"]["fp"],
                "sources": len(all_sources),
                "entities": len(all_entities),
                "by_category": collateral_rows,
            },
            "missed": {
                "events": fn,
                "not_blocked": views["block"]["fn"],
                "share_of_unregistered_vpn": _ratio(fn, tp + fn),
                "sources": len(self.missed_sources),
                "by_population_group": dict(self.missed_by_group.most_common()),
                "by_app": dict(self.missed_by_app.most_common()),
            },
        }

    def _prefix_result(self) -> list[dict]:
        keys = sorted(
            set(self.rule_sources) | set(self.rule_destinations),
            key=lambda k: -self.by_rule[k],
        )
        return [
            {
                "rule": rule,
                "decision": decision,
                "events": self.by_rule[(rule, decision)],
                "sources": _top(self.rule_sources.get((rule, decision))),
                "destinations": _top(self.rule_destinations.get((rule, decision))),
            }
            for rule, decision in keys
        ]


def _top(counter: Counter[str] | None) -> list[dict]:
    if not counter:
        return []
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_PREFIXES]
    return [{"prefix": prefix, "count": count} for prefix, count in ranked]
