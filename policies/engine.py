"""The evaluator: events in, one verdict per event per policy out.

Two paths share one compiled form of each policy. The array path
(:meth:`Engine.evaluate_arrays`) turns each condition into a numpy mask over the whole batch — set
membership through ``IPSet.contains_batch`` / ``RegistryView.contains_batch``, values through a
per-batch vocabulary, ports by range comparison — and picks the first matching rule with array
operations, so Python work per event is little more than building its :class:`Verdict`. The
scalar path (:meth:`Engine.evaluate_one`, also used by ``explain`` and ``policy test``)
short-circuits rule by rule. :meth:`Engine.evaluate`, what the stream worker and ``policysim
evaluate`` call, takes the array path for batches of :data:`SCALAR_BELOW` events or more and the
scalar one below. Both must agree; a property test checks it.

Registry sets are answered as of each event's own timestamp and phases are chosen by event time,
so results do not depend on when or in what order events are evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Protocol

import numpy as np

from policysim.base.vocabulary import DECISIONS
from policysim.policies.address_columns import AddressColumns
from policysim.policies.addresses import IP, parse_ip
from policysim.policies.ipset import IPSet
from policysim.policies.language.ast import (
    AddressCondition,
    Condition,
    Policy,
    Rule,
    SetDef,
    ValueCondition,
)
from policysim.policies.model import Event, Verdict
from policysim.policies.registry import Registry, RegistryView

_DECISION_CODE = {d: i for i, d in enumerate(DECISIONS)}
# Below this many events a batch is decided event by event: the array path costs about 60 µs a
# batch before its first event, as much as ten scalar decisions (the worker, reading one event
# per message at a low rate, takes batches of a few messages).
SCALAR_BELOW = 16
_TS = attrgetter("ts")


class BoundSet(Protocol):
    """A policy set bound to data: a static IPSet or a registry view."""

    key: tuple
    set_def: SetDef

    def contains(self, ip: IP, ts: float) -> bool: ...

    def contains_batch(self, ips: AddressColumns, ts: Sequence[float]) -> np.ndarray: ...


class StaticSet:
    """A ``file`` or ``cidrs`` set; time does not matter."""

    def __init__(self, set_def: SetDef, ipset: IPSet) -> None:
        self.set_def = set_def
        self.ipset = ipset
        self.key = ("static", id(ipset))

    def contains(self, ip: IP, ts: float) -> bool:
        return ip in self.ipset

    def contains_batch(self, ips: AddressColumns, ts: Sequence[float]) -> np.ndarray:
        return np.asarray(self.ipset.contains_batch(ips), dtype=bool)


class RegistrySet:
    """A ``registry`` set: registered in these categories at the event's time."""

    def __init__(self, set_def: SetDef, view: RegistryView) -> None:
        self.set_def = set_def
        self.view = view
        cats = set_def.categories
        self.key = ("registry", None if cats is None else tuple(sorted(cats)))

    def contains(self, ip: IP, ts: float) -> bool:
        return bool(self.view.contains(ip, ts))

    def contains_batch(self, ips: AddressColumns, ts: Sequence[float]) -> np.ndarray:
        return np.asarray(self.view.contains_batch(ips, ts), dtype=bool)


class EventContext:
    """One event with its addresses parsed on first use (the scalar path)."""

    __slots__ = ("_ips", "event", "ts")

    def __init__(self, event: Event) -> None:
        self.event = event
        self.ts = float(event.ts)
        self._ips: dict[str, IP] = {}

    def ip(self, field: str) -> IP:
        found = self._ips.get(field)
        if found is None:
            found = self._ips[field] = parse_ip(getattr(self.event, field))
        return found


class EventColumns:
    """A batch of events as columns, each computed once on first use and shared by every
    policy."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        self.n = len(events)
        self.ts_list = list(map(float, map(_TS, events)))
        self.ts = np.array(self.ts_list, dtype=np.float64)
        self._ips: dict[str, AddressColumns] = {}
        self._masks: dict[tuple, np.ndarray] = {}
        self._codes: dict[str, tuple[np.ndarray, list]] = {}
        self._ports: dict[str, np.ndarray] = {}

    def ips(self, field: str) -> AddressColumns:
        """The field's addresses, parsed and laid out as arrays once for every set lookup."""
        found = self._ips.get(field)
        if found is None:
            found = self._ips[field] = AddressColumns.from_texts(
                list(map(attrgetter(field), self.events))
            )
        return found

    def set_mask(self, field: str, bound: BoundSet) -> np.ndarray:
        key = (field, bound.key)
        found = self._masks.get(key)
        if found is None:
            found = self._masks[key] = bound.contains_batch(self.ips(field), self.ts_list)
        return found

    def codes(self, field: str) -> tuple[np.ndarray, list]:
        """Each event's value as an index into the batch's vocabulary of that field."""
        found = self._codes.get(field)
        if found is None:
            column = list(map(attrgetter(field), self.events))
            vocab = {v: i for i, v in enumerate(dict.fromkeys(column))}
            codes = np.fromiter(map(vocab.__getitem__, column), dtype=np.intp, count=self.n)
            found = self._codes[field] = (codes, list(vocab))
        return found

    def ports(self, field: str) -> np.ndarray:
        found = self._ports.get(field)
        if found is None:
            column = map(attrgetter(field), self.events)
            found = self._ports[field] = np.fromiter(column, dtype=np.int32, count=self.n)
        return found


class CompiledCondition:
    """A condition with its scalar test and its batch mask."""

    def __init__(self, condition: Condition, sets: dict[str, BoundSet]) -> None:
        self.condition = condition
        self.bound = (
            tuple(sets[name] for name in condition.sets)
            if isinstance(condition, AddressCondition)
            else ()
        )

    def test(self, ctx: EventContext) -> bool:
        c = self.condition
        if isinstance(c, AddressCondition):
            ip = ctx.ip(c.field)
            return any(b.contains(ip, ctx.ts) for b in self.bound) != c.negated
        if isinstance(c, ValueCondition):
            return getattr(ctx.event, c.field) in c.values
        return c.covers(getattr(ctx.event, c.field))

    def mask(self, batch: EventColumns) -> np.ndarray:
        c = self.condition
        if isinstance(c, AddressCondition):
            hit = np.zeros(batch.n, dtype=bool)
            for b in self.bound:
                hit |= batch.set_mask(c.field, b)
            return ~hit if c.negated else hit
        if isinstance(c, ValueCondition):
            codes, vocab = batch.codes(c.field)
            table = np.fromiter((v in c.values for v in vocab), dtype=bool, count=len(vocab))
            return table[codes] if len(vocab) else np.zeros(batch.n, dtype=bool)
        ports = batch.ports(c.field)
        hit = np.zeros(batch.n, dtype=bool)
        for lo, hi in c.ranges:
            hit |= (ports >= lo) & (ports <= hi)
        return hit


class CompiledRule:
    """A rule's conditions plus, per phase index, whether it can match and its decision."""

    def __init__(self, rule: Rule, policy: Policy, sets: dict[str, BoundSet]) -> None:
        self.rule = rule
        self.conditions = tuple(CompiledCondition(c, sets) for c in rule.conditions)
        names = [p.name for p in policy.phases] + [None]
        # Index -1 (no phase) is the last slot, so numpy and list indexing agree.
        self.decisions = [rule.decision_in(name) for name in names]
        self.codes = np.array([_DECISION_CODE.get(d, -1) for d in self.decisions], np.int8)
        self.active = self.codes >= 0
        self.always_active = bool(self.active.all())


class CompiledPolicy:
    """A policy bound to a registry, ready for both evaluation paths."""

    def __init__(self, policy: Policy, sets: dict[str, BoundSet], enforced: bool) -> None:
        self.policy = policy
        self.sets = sets
        self.enforced = enforced
        self.rules = tuple(CompiledRule(r, policy, sets) for r in policy.rules)
        self.rule_ids: list[str | None] = [r.id for r in policy.rules] + [None]
        self.phase_names: list[str | None] = [p.name for p in policy.phases] + [None]
        self.bounds = np.array(policy.phase_index.bounds, dtype=np.float64)
        self.labels = np.array(policy.phase_index.labels, dtype=np.intp)
        table = [r.codes for r in self.rules]
        table.append(np.full(len(self.phase_names), _DECISION_CODE[policy.default], np.int8))
        self.table = np.vstack(table)

    def decide(self, ctx: EventContext) -> tuple[int, int]:
        """(rule index or len(rules) for the default, phase index or -1) for one event."""
        phase = self.policy.phase_index.index_at(ctx.ts)
        for r, rule in enumerate(self.rules):
            if rule.active[phase] and all(c.test(ctx) for c in rule.conditions):
                return r, phase
        return len(self.rules), phase

    def decide_batch(self, batch: EventColumns) -> tuple[np.ndarray, np.ndarray]:
        """The batch version of :meth:`decide`: (rule indexes, phase indexes)."""
        phase = self.labels[np.searchsorted(self.bounds, batch.ts, side="right")]
        chosen = np.full(batch.n, len(self.rules), dtype=np.intp)
        undecided = np.ones(batch.n, dtype=bool)
        for r, rule in enumerate(self.rules):
            match = undecided if rule.always_active else undecided & rule.active[phase]
            for cond in rule.conditions:
                if not match.any():
                    break
                match = match & cond.mask(batch)
            chosen[match] = r
            undecided &= ~match
        return chosen, phase


class Engine:
    """Evaluates events against policies; ``policies[0]`` is enforced, the rest are shadows."""

    def __init__(self, policies: Sequence[Policy], registry: Registry) -> None:
        self._registry = registry
        self._views: dict[tuple[str, ...] | None, RegistryView] = {}
        self._compiled = tuple(self._compile(p, i == 0) for i, p in enumerate(policies))

    @property
    def policies(self) -> tuple[Policy, ...]:
        return tuple(c.policy for c in self._compiled)

    @property
    def registry(self) -> Registry:
        return self._registry

    @property
    def compiled(self) -> tuple[CompiledPolicy, ...]:
        return self._compiled

    def replace_policy(self, index: int, policy: Policy) -> None:
        """Swap one policy; a batch in flight keeps the tuple it started with."""
        compiled = self._compile(policy, index == 0)
        current = list(self._compiled)
        current[index] = compiled
        self._compiled = tuple(current)

    def evaluate(self, events: Sequence[Event]) -> list[list[Verdict]]:
        """Verdicts as ``[policy_index][event_index]``: by the array path, or event by event
        when the batch is too small to pay for the arrays (see :data:`SCALAR_BELOW`)."""
        if len(events) >= SCALAR_BELOW:
            return self.evaluate_arrays(events)
        if not events:
            return [[] for _ in self._compiled]
        per_event = [self.evaluate_one(e) for e in events]
        return [list(verdicts) for verdicts in zip(*per_event, strict=True)]

    def evaluate_arrays(self, events: Sequence[Event]) -> list[list[Verdict]]:
        """Verdicts as ``[policy_index][event_index]``, by the array path whatever the size."""
        compiled = self._compiled
        if not events:
            return [[] for _ in compiled]
        batch = EventColumns(events)
        version = self._registry.version
        categories = self._registry.categories_batch(batch.ips("src"), batch.ts_list)
        out = []
        for cp in compiled:
            chosen, phase = cp.decide_batch(batch)
            codes = cp.table[chosen, phase].tolist()
            name, pver, enforced = cp.policy.name, cp.policy.version, cp.enforced
            rule_ids, phase_names = cp.rule_ids, cp.phase_names
            out.append(
                [
                    Verdict(
                        e.id,
                        t,
                        name,
                        pver,
                        DECISIONS[d],
                        rule_ids[r],
                        phase_names[p],
                        version,
                        enforced,
                        c,
                        e.src,
                        e.dst,
                        e.app,
                        e.truth,
                    )
                    for e, t, d, r, p, c in zip(
                        events,
                        batch.ts_list,
                        codes,
                        chosen.tolist(),
                        phase.tolist(),
                        categories,
                        strict=True,
                    )
                ]
            )
        return out

    def evaluate_one(self, event: Event) -> list[Verdict]:
        """One verdict per policy for a single event (the scalar path)."""
        ctx = EventContext(event)
        version = self._registry.version
        category = self._registry.category_at(ctx.ip("src"), ctx.ts)
        verdicts = []
        for cp in self._compiled:
            r, p = cp.decide(ctx)
            verdicts.append(
                Verdict(
                    event.id,
                    ctx.ts,
                    cp.policy.name,
                    cp.policy.version,
                    DECISIONS[int(cp.table[r, p])],
                    cp.rule_ids[r],
                    cp.phase_names[p],
                    version,
                    cp.enforced,
                    category,
                    event.src,
                    event.dst,
                    event.app,
                    event.truth,
                )
            )
        return verdicts

    def _compile(self, policy: Policy, enforced: bool) -> CompiledPolicy:
        sets: dict[str, BoundSet] = {}
        for name, set_def in policy.sets.items():
            if set_def.is_registry:
                sets[name] = RegistrySet(set_def, self._view(set_def.categories))
            else:
                sets[name] = StaticSet(set_def, set_def.ipset)
        return CompiledPolicy(policy, sets, enforced)

    def _view(self, categories: frozenset[str] | None) -> RegistryView:
        """One registry view per category list, shared by all policies that name it."""
        key = None if categories is None else tuple(sorted(categories))
        if key not in self._views:
            self._views[key] = self._registry.view(None if key is None else list(key))
        return self._views[key]
