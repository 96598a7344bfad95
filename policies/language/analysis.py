"""``policy check`` warnings: unknown categories, unused definitions and rules that can never
match.

A registry set's category that is not one of the known categories
(:data:`policysim.base.vocabulary.CATEGORIES`) is warned about with the
closest known name, because a misspelt category silently matches nobody.

A rule can never match when the earlier rules together already decide every
event it would match. The proof works on a finite partition of each event
dimension into *cells*: for ``src``/``dst``, the feasible regions of the
Venn diagram of all sets the rules name (a region is dropped only when set
algebra proves it empty: static sets are intersected and subtracted exactly
with :class:`IPSet`, a registry set of categories C is inside one of
categories D when C ⊆ D); for ``app``/``proto`` each listed value plus "any
other value"; for ports the elementary ranges between all range ends; for
time the segments between phase boundaries. Each rule is then a box (a set
of cells per dimension) and a rule is shadowed when its box minus the boxes
of the earlier rules is empty. Regions that cannot be proven empty are kept,
so every warning is a proof; some unreachable rules may go unreported.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from policysim.base.vocabulary import CATEGORIES
from policysim.policies.ipset import IPSet
from policysim.policies.language.ast import (
    AddressCondition,
    Policy,
    PortCondition,
    Rule,
    SetDef,
    ValueCondition,
)
from policysim.policies.problems import Problem, suggest

DIMENSIONS = ("src", "dst", "app", "proto", "dport", "sport", "time")
MAX_SETS_PER_FIELD = 10
MAX_BOXES = 20_000
_OTHER = object()

Box = tuple[frozenset[int], ...]


def analyse(policy: Policy) -> list[Problem]:
    """All warnings for a parsed policy, in file order."""
    warnings = _unknown_categories(policy) + _unused(policy) + _unreachable(policy)
    return sorted(warnings)


def _warn(rule_or_def: Rule | SetDef, message: str) -> Problem:
    return Problem(rule_or_def.position, message, severity="warning")


def _unknown_categories(policy: Policy) -> list[Problem]:
    return [
        Problem(
            where,
            f"category {category!r} is not a known registry category"
            f" {suggest(category, CATEGORIES)}",
            severity="warning",
        )
        for set_def in policy.sets.values()
        for category, where in set_def.category_positions
        if category not in CATEGORIES
    ]


def _unused(policy: Policy) -> list[Problem]:
    used = {
        name
        for rule in policy.rules
        for c in rule.conditions
        if isinstance(c, AddressCondition)
        for name in c.sets
    }
    return [
        _warn(d, f"set {name!r} is defined but no rule uses it")
        for name, d in policy.sets.items()
        if name not in used
    ]


def _unreachable(policy: Policy) -> list[Problem]:
    cells = _Cells(policy)
    if not cells.ok:
        return []
    boxes = [cells.box(rule) for rule in policy.rules]
    warnings = []
    for k, rule in enumerate(policy.rules):
        if _is_empty(boxes[k]):
            warnings.append(_warn(rule, f"rule {rule.id!r} can never match: its conditions "
                                        "contradict each other"))  # fmt: skip
            continue
        deciders = _covered_by(boxes[k], boxes[:k])
        if deciders:
            names = ", ".join(repr(policy.rules[j].id) for j in deciders)
            warnings.append(
                _warn(
                    rule,
                    f"rule {rule.id!r} can never match: earlier rule(s) {names} already decide "
                    "every event it would match",
                )
            )
    return warnings


def _is_empty(box: Box) -> bool:
    return any(not cells for cells in box)


def _subtract(box: Box, other: Box) -> list[Box]:
    """``box`` minus ``other`` as disjoint boxes (split one dimension at a time)."""
    if any(not (a & b) for a, b in zip(box, other, strict=True)):
        return [box]
    pieces = []
    current = list(box)
    for d, cells in enumerate(other):
        outside = current[d] - cells
        if outside:
            pieces.append((*current[:d], outside, *current[d + 1 :]))
        current[d] = current[d] & cells
    return pieces


def _covered_by(box: Box, earlier: Sequence[Box]) -> list[int] | None:
    """A small set of earlier boxes that together cover ``box`` (their indexes), or None."""
    used = _cover(box, list(enumerate(earlier)))
    if used is None:
        return None
    for j in list(used):
        fewer = [i for i in used if i != j]
        if _cover(box, [(i, earlier[i]) for i in fewer]) is not None:
            used = fewer
    return used


def _cover(box: Box, candidates: Sequence[tuple[int, Box]]) -> list[int] | None:
    remaining = [box]
    used = []
    for j, other in candidates:
        if _is_empty(other):
            continue
        touched = any(all(a & b for a, b in zip(r, other, strict=True)) for r in remaining)
        if not touched:
            continue
        used.append(j)
        remaining = [piece for r in remaining for piece in _subtract(r, other)]
        if not remaining:
            return used
        if len(remaining) > MAX_BOXES:
            return None
    return None


class _Cells:
    """The partition of each dimension into cells, and rules as boxes over it."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.ok = True
        conditions = [c for r in policy.rules for c in r.conditions]
        self.address: dict[str, tuple[list[str], list[tuple[bool, ...]]]] = {}
        for field in ("src", "dst"):
            names = sorted(
                {n for c in conditions if isinstance(c, AddressCondition) and c.field == field
                 for n in c.sets}
            )  # fmt: skip
            if len(names) > MAX_SETS_PER_FIELD:
                self.ok = False
                return
            signs = [s for s in itertools.product((False, True), repeat=len(names))
                     if _feasible(dict(zip(names, s, strict=True)), policy)]  # fmt: skip
            self.address[field] = (names, signs)
        self.values: dict[str, list] = {}
        for field in ("app", "proto"):
            found = {v for c in conditions if isinstance(c, ValueCondition) and c.field == field
                     for v in c.values}  # fmt: skip
            self.values[field] = [*sorted(found), _OTHER]
        self.ports: dict[str, list[tuple[int, int]]] = {}
        for field in ("dport", "sport"):
            edges = {0, 65536}
            for c in conditions:
                if isinstance(c, PortCondition) and c.field == field:
                    for lo, hi in c.ranges:
                        edges.update((lo, hi + 1))
            ordered = sorted(edges)
            self.ports[field] = list(itertools.pairwise(ordered))
        self.segments = policy.phase_index.labels

    def all_cells(self, dim: str) -> frozenset[int]:
        if dim in self.address:
            return frozenset(range(len(self.address[dim][1])))
        if dim in self.values:
            return frozenset(range(len(self.values[dim])))
        if dim in self.ports:
            return frozenset(range(len(self.ports[dim])))
        return frozenset(range(len(self.segments)))

    def box(self, rule: Rule) -> Box:
        dims = {d: self.all_cells(d) for d in DIMENSIONS}
        phases = [p.name for p in self.policy.phases]
        dims["time"] = frozenset(
            i for i, k in enumerate(self.segments)
            if rule.decision_in(phases[k] if k >= 0 else None) is not None
        )  # fmt: skip
        for c in rule.conditions:
            dims[c.field] = dims[c.field] & self.condition_cells(c)
        return tuple(dims[d] for d in DIMENSIONS)

    def condition_cells(self, c: AddressCondition | ValueCondition | PortCondition) -> frozenset:
        if isinstance(c, AddressCondition):
            names, signs = self.address[c.field]
            idx = [names.index(n) for n in c.sets]
            if c.negated:
                return frozenset(i for i, s in enumerate(signs) if not any(s[k] for k in idx))
            return frozenset(i for i, s in enumerate(signs) if any(s[k] for k in idx))
        if isinstance(c, ValueCondition):
            return frozenset(i for i, v in enumerate(self.values[c.field]) if v in c.values)
        return frozenset(
            i for i, (lo, hi) in enumerate(self.ports[c.field]) if c.covers(lo) and c.covers(hi - 1)
        )


def _feasible(signs: dict[str, bool], policy: Policy) -> bool:
    """False only when set algebra proves no address has this membership pattern."""
    sets = policy.sets
    inside = [sets[n] for n, s in signs.items() if s]
    outside = [sets[n] for n, s in signs.items() if not s]
    region = IPSet.from_cidrs(["0.0.0.0/0", "::/0"])
    for d in inside:
        if not d.is_registry:
            region = region & d.ipset
    for d in outside:
        if not d.is_registry:
            region = region - d.ipset
    if region.is_empty():
        return False
    return not any(
        _registry_within(a, b) for a in inside if a.is_registry for b in outside if b.is_registry
    )


def _registry_within(a: SetDef, b: SetDef) -> bool:
    """Registered-in-a is inside registered-in-b at every moment."""
    if b.categories is None:
        return True
    return a.categories is not None and a.categories <= b.categories
