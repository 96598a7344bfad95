"""The report's numbers, from a stream of verdicts and a description of the inputs.

:class:`ReportBuilder` is fed verdicts one at a time (from a file, from the
``verdicts`` topic or straight from the offline engine) and produces the
``report.json`` document. It never reads metrics: every number is counted
from verdicts and the ground truth they carry, so it is exact.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import msgspec

from policysim.base.vocabulary import DECISIONS
from policysim.policies.model import Verdict
from policysim.report.aggregate import DECISION_INDEX, DEFAULT_RULE, LocalCalendar, PolicyTally
from policysim.report.dedup import SeenVerdicts
from policysim.report.diff import PolicyDiff

log = logging.getLogger(__name__)

SCHEMA_ID = "policysim-report/1"

_verdict_decoder = msgspec.json.Decoder(Verdict)


class ReportError(ValueError):
    """Verdicts that cannot make a report (unknown policy, nothing to count)."""


class ReportBuilder:
    """Folds verdicts into every tally of the report.

    ``policy_names`` is the policy order: the first is the enforced one that
    the others are compared against, and the one whose verdicts stand for the
    events (counts of events, the adoption curve) so nothing counts twice.
    """

    def __init__(self, policy_names: list[str], timezone: str = "UTC") -> None:
        if not policy_names:
            raise ReportError("a report needs at least one policy")
        if len(set(policy_names)) != len(policy_names):
            raise ReportError(f"policy names must be distinct: {policy_names}")
        self.names = list(policy_names)
        self.timezone = timezone
        calendar = LocalCalendar(timezone)
        self.tallies = {name: PolicyTally(name, calendar) for name in self.names}
        self.diff = PolicyDiff(self.names)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.seen = SeenVerdicts()
        self.reference = self.names[0]
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.entity_first_registered: dict[str, float] = {}
        self.entities_seen: dict[str, str | None] = {}
        self.verdicts = 0
        self.rejected_lines = 0

    def add(self, v: Verdict) -> None:
        """Fold one verdict; a repeat of one already counted is only counted as a duplicate.

        A verdict of a policy not in the report is an error.
        """
        index = self.index.get(v.policy)
        if index is None:
            raise ReportError(f"verdict {v.id!r} names policy {v.policy!r}, not in {self.names}")
        if not self.seen.first_time(index, v.id):
            return
        self.diff.add(v)
        self.verdicts += 1
        self.tallies[v.policy].add(v)
        if v.policy == self.reference:
            self._event(v)

    def add_all(self, verdicts: Iterable[Verdict]) -> None:
        for v in verdicts:
            self.add(v)

    def _event(self, v: Verdict) -> None:
        ts = v.ts
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        truth = v.truth
        if truth is None or truth.entity_id is None:
            return
        entity = truth.entity_id
        if entity not in self.entities_seen:
            self.entities_seen[entity] = truth.category
        if truth.registered_at_event_time:
            known = self.entity_first_registered.get(entity)
            if known is None or ts < known:
                self.entity_first_registered[entity] = ts

    def result(
        self,
        inputs: dict | None = None,
        registrations: list[dict] | None = None,
        entities_total: int | None = None,
    ) -> dict:
        """The report.json document.

        ``registrations`` (``{"entity_id", "category", "registered_at"}`` in
        epoch seconds, from the registry the simulator wrote) gives the exact
        adoption curve (``entities_total`` counts those that never register
        too); without it the curve is derived from the events' truth: an
        entity counts as registered from its first event that carries
        ``registered_at_event_time``.
        """
        if self.first_ts is None:
            raise ReportError(f"no verdicts of the enforced policy {self.reference!r}")
        declared = {
            p["name"]: [*p["rules"], {"id": DEFAULT_RULE, "then": p.get("default")}]
            for p in (inputs or {}).get("policies", [])
            if "rules" in p
        }
        names = None
        if registrations is not None:
            names = {r["entity_id"]: r.get("name") for r in registrations}
        policies = [self.tallies[name].result(declared.get(name), names) for name in self.names]
        return {
            "schema": SCHEMA_ID,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "inputs": inputs or {},
            "timezone": self.timezone,
            "window": {"first_ts": self.first_ts, "last_ts": self.last_ts},
            "totals": {
                "events": policies[0]["events"],
                "verdicts": self.verdicts,
                "duplicate_verdicts": self.seen.duplicates,
                "unreadable_verdict_lines": self.rejected_lines,
                "events_missing_verdicts": self.diff.incomplete(),
            },
            "headline": [_headline(p, self.diff, i) for i, p in enumerate(policies)],
            "policies": policies,
            "timeline": self._timeline(registrations, entities_total),
            "diffs": self.diff.result(),
        }

    def _timeline(self, registrations: list[dict] | None, entities_total: int | None) -> dict:
        assert self.first_ts is not None and self.last_ts is not None
        start = int(self.first_ts // 3600) * 3600
        end = int(self.last_ts // 3600) * 3600
        hours = list(range(start, end + 3600, 3600))
        series = {}
        for name in self.names:
            hourly = self.tallies[name].hourly
            series[name] = {
                decision: [hourly.get(h, (0, 0, 0))[DECISION_INDEX[decision]] for h in hours]
                for decision in DECISIONS
            }
        return {
            "hour_starts": hours,
            "decisions": series,
            "adoption": self._adoption(hours, registrations, entities_total),
        }

    def _adoption(
        self, hours: list[int], registrations: list[dict] | None, entities_total: int | None
    ) -> dict:
        if registrations is not None:
            source = "registry"
            times = [r["registered_at"] for r in registrations]
            total = entities_total or len({r["entity_id"] for r in registrations})
        else:
            source = "truth"
            times = list(self.entity_first_registered.values())
            total = len(self.entities_seen)
        times.sort(key=lambda t: float("-inf") if t is None else t)
        registered, k = [], 0
        for h in hours:
            edge = h + 3600
            while k < len(times) and (times[k] is None or times[k] < edge):
                k += 1
            registered.append(k)
        return {"source": source, "entities": total, "registered": registered}


def _headline(policy: dict, diff: PolicyDiff, index: int) -> dict:
    truth = policy["truth"]
    d = policy["decisions"]
    return {
        "policy": policy["name"],
        "role": "enforced" if index == 0 else "shadow",
        "events": policy["events"],
        **{f"{decision}_share": d[decision]["share"] for decision in DECISIONS},
        "precision": truth["precision"],
        "recall": truth["recall"],
        "block_precision": truth["views"]["block"]["precision"],
        "block_recall": truth["views"]["block"]["recall"],
        "flag_precision": truth["views"]["flag"]["precision"],
        "flag_recall": truth["views"]["flag"]["recall"],
        "collateral_events": truth["collateral"]["events"],
        "collateral_blocked": truth["collateral"]["blocked"],
        "collateral_flagged": truth["collateral"]["flagged"],
        "collateral_sources": truth["collateral"]["sources"],
        "missed_events": truth["missed"]["events"],
        "not_blocked_events": truth["missed"]["not_blocked"],
        "changed_vs_enforced": diff.changed[index] if index else None,
    }


def read_verdicts(
    path: str | os.PathLike[str], builder: ReportBuilder | None = None
) -> Iterator[Verdict]:
    """Verdicts from a JSON-lines file; an unreadable line is logged and counted on ``builder``."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield _verdict_decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("%s:%d: not a verdict: %s", path, number, exc)
                if builder is not None:
                    builder.rejected_lines += 1


def policy_order(path: str | os.PathLike[str]) -> list[str]:
    """Policy names in a verdict file, the enforced one first (a pass that reads only names)."""
    seen: dict[str, bool] = {}
    decoder = msgspec.json.Decoder(_NameOnly)
    with open(path, "rb") as handle:
        for line in handle:
            try:
                head = decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
            seen[head.policy] = seen.get(head.policy, False) or head.enforced
    return sorted(seen, key=lambda name: not seen[name])


class _NameOnly(msgspec.Struct):
    policy: str
    enforced: bool = True


def report_from_file(
    path: str | os.PathLike[str],
    policy_names: list[str] | None = None,
    timezone: str = "UTC",
    inputs: dict | None = None,
    registrations: list[dict] | None = None,
    entities_total: int | None = None,
) -> dict:
    """The report of a verdict file (``policysim dump verdicts`` output)."""
    names = policy_names or policy_order(path)
    builder = ReportBuilder(names, timezone)
    builder.add_all(read_verdicts(path, builder))
    return builder.result(inputs, registrations, entities_total)
