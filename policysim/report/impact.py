"""Flag and block apart, per phase, with a cause for every wrong decision and who it hit.

A policy that flags and one that blocks do different harm, so every figure
here is kept per decision and read through three views: "block", "flag" and
"flag or block". The positives are traffic to stop (:func:`should_stop`);
everything else with ground truth is legitimate. A miss is a positive the
view does not catch; collateral is legitimate traffic it does. Tallies are
keyed by phase, cause and rule (bounded by the policy), sources and entities
hit by mistake (bounded by the population), never by event.
"""

from __future__ import annotations

from collections.abc import Iterable

from policysim.base.vocabulary import COLLATERAL_CAUSES, DECISIONS, MISS_CAUSES
from policysim.policies.model import Truth, Verdict
from policysim.report.causes import collateral_cause, miss_cause, should_stop

# Which decisions each view counts as "caught".
VIEWS: dict[str, tuple[int, ...]] = {"block": (2,), "flag": (1,), "flag_or_block": (1, 2)}
# Misses are read where a miss means something: not blocked, and not even flagged.
MISS_VIEWS = ("block", "flag_or_block")
COLLATERAL_VIEWS = ("flag", "block", "flag_or_block")
NO_PHASE = "(no phase)"
TOP_HIT = 10
POSITIVE, LEGITIMATE = 0, 1


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def view_figures(matrix: list[list[int]], view: str) -> dict:
    """Counts, precision and recall of one view of a [to stop, legitimate] × decision matrix."""
    caught = VIEWS[view]
    pos, legit = matrix[POSITIVE], matrix[LEGITIMATE]
    tp = sum(pos[d] for d in caught)
    fp = sum(legit[d] for d in caught)
    fn, tn = sum(pos) - tp, sum(legit) - fp
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
    }


class _Cell:
    """Events of one cause in one phase, per decision, and the sources and entities behind them."""

    __slots__ = ("counts", "entities", "sources")

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.sources: list[set[str]] = [set(), set(), set()]
        self.entities: list[set[str]] = [set(), set(), set()]

    def add(self, d: int, src: str | None, entity: str | None) -> None:
        self.counts[d] += 1
        if src:
            self.sources[d].add(src)
        if entity:
            self.entities[d].add(entity)


def _view(cells: Iterable[_Cell], decisions: Iterable[int]) -> dict:
    """Events, distinct sources and distinct entities of ``cells`` under some decisions."""
    events, sources, entities = 0, set(), set()
    for cell in cells:
        for d in decisions:
            events += cell.counts[d]
            sources |= cell.sources[d]
            entities |= cell.entities[d]
    return {"events": events, "sources": len(sources), "entities": len(entities)}


def _not_caught(view: str) -> tuple[int, ...]:
    return tuple(d for d in range(len(DECISIONS)) if d not in VIEWS[view])


class ImpactTally:
    """One policy's views, causes and people hit, folded verdict by verdict."""

    def __init__(self) -> None:
        self.quality: dict[str, list[list[int]]] = {}
        self.missed: dict[tuple[str, str | None, str], _Cell] = {}
        self.collateral: dict[tuple[str, str], _Cell] = {}
        self.entities_hit: dict[str, list] = {}  # entity -> [flag, block, category, {sources}]
        self.sources_hit: dict[str, list] = {}  # src -> [flag, block, entity, category, shared]
        self.phase_start: dict[str, float] = {}  # phase -> its earliest event time

    def add(self, v: Verdict, truth: Truth, d: int) -> None:
        phase = v.phase or NO_PHASE
        matrix = self.quality.get(phase)
        if matrix is None:
            matrix = self.quality[phase] = [[0, 0, 0], [0, 0, 0]]
            self.phase_start[phase] = v.ts
        elif v.ts < self.phase_start[phase]:
            self.phase_start[phase] = v.ts
        if should_stop(truth):
            matrix[POSITIVE][d] += 1
            if d != 2:
                self._miss(v, truth, d, phase)
        else:
            matrix[LEGITIMATE][d] += 1
            if d:
                self._collateral(v, truth, d, phase)

    def _miss(self, v: Verdict, truth: Truth, d: int, phase: str) -> None:
        cause = miss_cause(truth, v)
        key = (cause, v.rule if cause == "rule_lets_through" else None, phase)
        cell = self.missed.get(key)
        if cell is None:
            cell = self.missed[key] = _Cell()
        cell.add(d, v.src, truth.entity_id)

    def _collateral(self, v: Verdict, truth: Truth, d: int, phase: str) -> None:
        key = (collateral_cause(truth, v), phase)
        cell = self.collateral.get(key)
        if cell is None:
            cell = self.collateral[key] = _Cell()
        cell.add(d, v.src, truth.entity_id)
        at = d - 1  # flag 0, block 1
        if truth.entity_id:
            hit = self.entities_hit.get(truth.entity_id)
            if hit is None:
                hit = self.entities_hit[truth.entity_id] = [0, 0, truth.category, set()]
            hit[at] += 1
            if v.src:
                hit[3].add(v.src)
        if v.src:
            source = self.sources_hit.get(v.src)
            if source is None:
                source = self.sources_hit[v.src] = [0, 0, truth.entity_id, truth.category, 1]
            source[at] += 1
            source[4] = max(source[4], truth.shared_by or 1)

    def _by_time(self, phases: dict[str, object]) -> list[tuple[str, object]]:
        """``phases`` items in the order of their earliest event: the same however verdicts
        arrive (a stream interleaves partitions; the offline engine does not)."""
        return sorted(phases.items(), key=lambda kv: (self.phase_start[kv[0]], kv[0]))

    def quality_result(self) -> dict:
        """Each view's figures overall and per phase (phases in the order of their first event)."""
        total = [[0, 0, 0], [0, 0, 0]]
        for matrix in self.quality.values():
            for row in (POSITIVE, LEGITIMATE):
                for d in range(3):
                    total[row][d] += matrix[row][d]
        return {
            "views": {view: view_figures(total, view) for view in VIEWS},
            "by_phase": [
                {
                    "phase": phase,
                    "events": sum(map(sum, matrix)),
                    "should_stop": sum(matrix[POSITIVE]),
                    "legitimate": sum(matrix[LEGITIMATE]),
                    "decisions_on_should_stop": dict(zip(DECISIONS, matrix[POSITIVE], strict=True)),
                    "decisions_on_legitimate": dict(
                        zip(DECISIONS, matrix[LEGITIMATE], strict=True)
                    ),
                    "views": {view: view_figures(matrix, view) for view in VIEWS},
                }
                for phase, matrix in self._by_time(self.quality)
            ],
        }

    def causes_result(self) -> dict:
        """Every cause of the vocabulary (zero or not), with its views overall and per phase."""
        missed = [
            self._cause_row(
                {"cause": cause, "rule": rule},
                {
                    phase: cell
                    for (c, r, phase), cell in self.missed.items()
                    if (c, r) == (cause, rule)
                },
                MISS_VIEWS,
                _not_caught,
            )
            for cause, rule in self._missed_keys()
        ]
        collateral = [
            self._cause_row(
                {"cause": cause},
                {phase: cell for (c, phase), cell in self.collateral.items() if c == cause},
                COLLATERAL_VIEWS,
                lambda view: VIEWS[view],
            )
            for cause in COLLATERAL_CAUSES
        ]
        return {"missed": missed, "collateral": collateral}

    def _missed_keys(self) -> list[tuple[str, str | None]]:
        """Each miss cause once, ``rule_lets_through`` once per rule that let traffic through."""
        keys: list[tuple[str, str | None]] = []
        for cause in MISS_CAUSES:
            rules = sorted({r for c, r, _ in self.missed if c == cause and r is not None})
            keys += [(cause, rule) for rule in rules] or [(cause, None)]
        return keys

    def _cause_row(self, head: dict, by_phase: dict[str, _Cell], views, decisions_of) -> dict:
        row = dict(head)
        for view in views:
            row[view] = _view(by_phase.values(), decisions_of(view))
        row["by_phase"] = [
            {"phase": phase, **{view: _view([cell], decisions_of(view)) for view in views}}
            for phase, cell in self._by_time(by_phase)
        ]
        return row

    def who_is_hit(self, names: dict[str, str | None] | None) -> dict:
        """The entities and sources with most collateral, flagged and blocked, named when known."""
        entities = sorted(self.entities_hit.items(), key=lambda kv: (-kv[1][0] - kv[1][1], kv[0]))
        sources = sorted(self.sources_hit.items(), key=lambda kv: (-kv[1][0] - kv[1][1], kv[0]))
        return {
            "names": "registry" if names is not None else "unavailable",
            "entities": [
                {
                    "entity_id": entity,
                    "name": (names or {}).get(entity),
                    "category": hit[2],
                    "flag": hit[0],
                    "block": hit[1],
                    "events": hit[0] + hit[1],
                    "sources": len(hit[3]),
                }
                for entity, hit in entities[:TOP_HIT]
            ],
            "sources": [
                {
                    "src": src,
                    "entity_id": hit[2],
                    "name": (names or {}).get(hit[2]) if hit[2] else None,
                    "category": hit[3],
                    "shared_by": hit[4],
                    "flag": hit[0],
                    "block": hit[1],
                    "events": hit[0] + hit[1],
                }
                for src, hit in sources[:TOP_HIT]
            ],
        }
