"""The typed policy AST: what a policy file means, independent of YAML.

The parser (:mod:`policysim.policies.language.parser`) builds these frozen values and
has already checked every cross-reference (set names, phase names, rule
ids), so the engine, the analyser, the test runner and ``explain`` can trust
them without re-validating. Static IP sets (``file`` and ``cidrs``) are
loaded at parse time because a bad CIDR is a policy error; registry sets
stay symbolic (a category list) because they are bound to a live registry
only when an engine is built.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from policysim.policies.ipset import IPSet
from policysim.policies.model import Event
from policysim.policies.problems import Position

SetKind = Literal["registry", "file", "cidrs"]
AddressField = Literal["src", "dst"]
ValueField = Literal["app", "proto"]
PortField = Literal["dport", "sport"]


@dataclass(frozen=True)
class SetDef:
    """A named IP set. ``categories`` is None for ``registry: {}`` (all categories);
    ``category_positions`` says where each category was written, for warnings."""

    name: str
    kind: SetKind
    position: Position
    categories: frozenset[str] | None = None
    ipset: IPSet | None = None
    source: str = ""
    category_positions: tuple[tuple[str, Position], ...] = ()

    @property
    def is_registry(self) -> bool:
        return self.kind == "registry"


@dataclass(frozen=True)
class AddressCondition:
    """``src``/``dst`` ``in`` (any of) or ``not_in`` (none of) named sets."""

    field: AddressField
    sets: tuple[str, ...]
    negated: bool
    position: Position


@dataclass(frozen=True)
class ValueCondition:
    """``app``/``proto`` equal to one of ``values`` (an unset ``app`` never matches)."""

    field: ValueField
    values: frozenset[str]
    position: Position


@dataclass(frozen=True)
class PortCondition:
    """``dport``/``sport`` inside one of the inclusive ``ranges``."""

    field: PortField
    ranges: tuple[tuple[int, int], ...]
    position: Position

    def covers(self, port: int) -> bool:
        return any(lo <= port <= hi for lo, hi in self.ranges)


Condition = AddressCondition | ValueCondition | PortCondition


@dataclass(frozen=True)
class Rule:
    """One ordered rule. Exactly one of ``decision`` and ``by_phase`` is set."""

    id: str
    conditions: tuple[Condition, ...]
    position: Position
    decision: str | None = None
    by_phase: Mapping[str, str] | None = None

    def decision_in(self, phase: str | None) -> str | None:
        """The rule's decision during ``phase``; None means the rule does not match then."""
        if self.by_phase is None:
            return self.decision
        return self.by_phase.get(phase) if phase is not None else None


@dataclass(frozen=True)
class Phase:
    """A named window of event time, ``[start, end)``; None is unbounded."""

    name: str
    start: float | None
    end: float | None
    position: Position

    def contains(self, ts: float) -> bool:
        return (self.start is None or self.start <= ts) and (self.end is None or ts < self.end)


@dataclass(frozen=True)
class PolicyTest:
    """A ``tests:`` entry. ``expect_rule`` is only checked when ``checks_rule``."""

    name: str
    event: Event
    expect_decision: str
    position: Position
    expect_rule: str | None = None
    checks_rule: bool = False
    expect_phase: str | None = None
    checks_phase: bool = False


@dataclass(frozen=True)
class PhaseIndex:
    """Phases as sorted boundaries so an event time finds its phase by bisection.

    ``labels[i]`` is the phase index of the segment left of ``bounds[i]``
    (``labels[len(bounds)]`` is the last one); -1 means no phase.
    """

    bounds: tuple[float, ...]
    labels: tuple[int, ...]

    @classmethod
    def build(cls, phases: tuple[Phase, ...]) -> PhaseIndex:
        points = sorted({t for p in phases for t in (p.start, p.end) if t is not None})
        labels = []
        for i in range(len(points) + 1):
            probe = points[i - 1] if i > 0 else (points[0] - 1.0 if points else 0.0)
            labels.append(next((k for k, p in enumerate(phases) if p.contains(probe)), -1))
        return cls(tuple(points), tuple(labels))

    def index_at(self, ts: float) -> int:
        return self.labels[bisect.bisect_right(self.bounds, ts)]


@dataclass(frozen=True)
class Policy:
    """A parsed, checked policy file."""

    name: str
    version: int
    path: str
    sha256: str
    timezone: str
    sets: Mapping[str, SetDef]
    phases: tuple[Phase, ...]
    rules: tuple[Rule, ...]
    default: str
    tests: tuple[PolicyTest, ...] = ()
    test_registry: str | None = None
    phase_index: PhaseIndex = field(default_factory=lambda: PhaseIndex((), (-1,)))

    def phase_at(self, ts: float) -> Phase | None:
        """The phase covering ``ts`` (phases never overlap), or None."""
        k = self.phase_index.index_at(ts)
        return self.phases[k] if k >= 0 else None
