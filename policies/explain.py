"""``policysim explain``: why an event got its verdict, rule by rule.

This walks the scalar path again with every condition evaluated (not
short-circuited) and, for set conditions, names what made them true: the
registry entity and prefix (through :meth:`Registry.explain`, the secondary
index the hot path does not carry) or, for a static set, the largest block
of the set that holds the address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from policysim.policies.addresses import IP, format_ip
from policysim.policies.engine import (
    CompiledCondition,
    CompiledPolicy,
    Engine,
    EventContext,
    StaticSet,
)
from policysim.policies.ipset import IPSet
from policysim.policies.language.ast import AddressCondition, PortCondition, SetDef, ValueCondition
from policysim.policies.model import Event, Verdict
from policysim.policies.registry import Registry


@dataclass(frozen=True)
class ConditionTrace:
    text: str
    holds: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleTrace:
    """``tried`` is false for rules after the deciding one; ``active`` false outside its phases."""

    rule_id: str
    tried: bool
    active: bool
    matched: bool
    conditions: tuple[ConditionTrace, ...] = ()


@dataclass(frozen=True)
class Explanation:
    policy: str
    verdict: Verdict
    phase: str | None
    rules: tuple[RuleTrace, ...] = field(default=())


def explain(engine: Engine, event: Event) -> list[Explanation]:
    """One explanation per policy of the engine, in policy order."""
    verdicts = engine.evaluate_one(event)
    ctx = EventContext(event)
    return [
        _explain_policy(cp, ctx, verdict, engine.registry)
        for cp, verdict in zip(engine.compiled, verdicts, strict=True)
    ]


def _explain_policy(
    cp: CompiledPolicy, ctx: EventContext, verdict: Verdict, registry: Registry
) -> Explanation:
    phase = cp.policy.phase_index.index_at(ctx.ts)
    traces = []
    decided = False
    for rule in cp.rules:
        if decided:
            traces.append(RuleTrace(rule.rule.id, tried=False, active=False, matched=False))
            continue
        active = bool(rule.active[phase])
        conditions = tuple(_condition(c, ctx, registry) for c in rule.conditions)
        matched = active and all(c.holds for c in conditions)
        decided = matched
        traces.append(RuleTrace(rule.rule.id, True, active, matched, conditions))
    return Explanation(cp.policy.name, verdict, cp.phase_names[phase], tuple(traces))


def _condition(cc: CompiledCondition, ctx: EventContext, registry: Registry) -> ConditionTrace:
    c = cc.condition
    holds = cc.test(ctx)
    if isinstance(c, ValueCondition):
        value = getattr(ctx.event, c.field)
        return ConditionTrace(f"{c.field} {value!r} in {sorted(c.values)}", holds)
    if isinstance(c, PortCondition):
        spans = ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in c.ranges)
        return ConditionTrace(f"{c.field} {getattr(ctx.event, c.field)} in [{spans}]", holds)
    assert isinstance(c, AddressCondition)
    ip = ctx.ip(c.field)
    op = "not_in" if c.negated else "in"
    text = f"{c.field} {format_ip(ip)} {op} {list(c.sets)}"
    reasons = []
    for bound in cc.bound:
        name = bound.set_def.name
        if not bound.contains(ip, ctx.ts):
            reasons.append(f"not in set {name!r}")
            if not isinstance(bound, StaticSet):
                reasons.extend(_near_misses(bound.set_def, ip, ctx.ts, registry))
        elif isinstance(bound, StaticSet):
            reasons.append(f"in set {name!r} by block {_block(bound.ipset, ip)}")
        else:
            matches = _registry_matches(bound, ip, ctx.ts, registry)
            reasons.extend(f"in set {name!r}: {m}" for m in matches)
    return ConditionTrace(text, holds, tuple(reasons))


def _registry_matches(bound, ip: IP, ts: float, registry: Registry) -> list[str]:
    cats = bound.set_def.categories
    found = []
    for m in registry.explain(ip, ts):
        if cats is not None and m.category not in cats:
            continue
        until = f", expires {_when(m.expires_at)}" if m.expires_at is not None else ""
        found.append(
            f"entity {m.entity_id} ({m.name or 'unnamed'}, {m.category}) prefix {m.prefix},"
            f" registered {_when(m.registered_at)}{until}"
        )
    return found or ["registered (no entity detail available)"]


def _near_misses(set_def: SetDef, ip: IP, ts: float, registry: Registry) -> list[str]:
    """Registrations that cover the address but do not count at ``ts`` for this set."""
    notes = []
    for m in registry.explain(ip, ts, include_inactive=True):
        who = f"entity {m.entity_id} ({m.name or 'unnamed'}) prefix {m.prefix}"
        if not m.active:
            window = f"registered {_when(m.registered_at)}"
            if m.expires_at is not None:
                window += f", expires {_when(m.expires_at)}"
            if m.revoked_at is not None:
                window += f", revoked {_when(m.revoked_at)}"
            notes.append(f"  {who} is not registered at this time ({window})")
        elif set_def.categories is not None and m.category not in set_def.categories:
            notes.append(f"  {who} is registered as {m.category}, not a category of this set")
    return notes


def _when(value: object) -> str:
    if value is None:
        return "always"
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return str(value)


def _block(ipset: IPSet, ip: IP) -> str:
    """The shortest prefix around ``ip`` that lies wholly inside ``ipset``."""
    version, value = ip
    width = 32 if version == 4 else 128
    lo, hi = 0, width
    while lo < hi:
        mid = (lo + hi) // 2
        net = IPSet()
        net.add_network(version, value >> (width - mid) << (width - mid), mid)
        if net.issubset(ipset):
            hi = mid
        else:
            lo = mid + 1
    base = value >> (width - lo) << (width - lo)
    return f"{format_ip((version, base))}/{lo}"


def render(explanations: list[Explanation]) -> str:
    """Plain text for a terminal."""
    lines = []
    for ex in explanations:
        v = ex.verdict
        by = f"rule {v.rule!r}" if v.rule else "the default"
        lines.append(f"policy {ex.policy} v{v.policy_version}: {v.decision.upper()} by {by}"
                     f" (phase {ex.phase or '-'}, registry v{v.registry_version},"
                     f" source category {v.category or 'unregistered'})")  # fmt: skip
        for rt in ex.rules:
            if not rt.tried:
                lines.append(f"  - {rt.rule_id}: not tried (an earlier rule decided)")
                continue
            state = "MATCHED" if rt.matched else "no match"
            inactive = "" if rt.active else f" (not in force in phase {ex.phase or '-'})"
            lines.append(f"  - {rt.rule_id}: {state}{inactive}")
            for ct in rt.conditions:
                lines.append(f"      [{'x' if ct.holds else ' '}] {ct.text}")
                lines.extend(f"          {reason}" for reason in ct.reasons)
    return "\n".join(lines)
