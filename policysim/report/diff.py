"""Where the enforced policy and each shadow disagree, event by event.

Verdicts of one event arrive close together (the worker writes every
policy's verdict for a batch before the next batch), so an event is held only
until all its policies have spoken and is then folded into counts and
dropped. Memory is bounded by how far apart one event's verdicts arrive, not
by the number of events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from policysim.policies.model import Verdict
from policysim.report.aggregate import DEFAULT_RULE, UNREGISTERED, prefix_of

EXAMPLES_PER_GROUP = 3

# (decision, rule) of each policy, in policy order; slot 0 also keeps the
# enforced verdict itself so a changed event can serve as an example.
_Slot = tuple[str, str]


@dataclass
class _Group:
    count: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    examples: list[Verdict] = field(default_factory=list)


def _keep_example(examples: list[Verdict], v: Verdict) -> None:
    """Keep the earliest events (by time, then id), so examples do not depend on arrival order.

    Verdicts from Kafka arrive interleaved across partitions; "the first
    three seen" would differ between runs of the same seed.
    """
    if len(examples) == EXAMPLES_PER_GROUP:
        last = examples[-1]
        if (v.ts, v.id) >= (last.ts, last.id):
            return
        examples.pop()
    examples.append(v)
    examples.sort(key=lambda e: (e.ts, e.id))


class _Pending:
    __slots__ = ("first", "slots")

    def __init__(self, size: int) -> None:
        self.slots: list[_Slot | None] = [None] * size
        self.first: Verdict | None = None


class PolicyDiff:
    """Joins verdicts by event id and counts decision changes against policy 0."""

    def __init__(self, policy_names: list[str]) -> None:
        self.names = policy_names
        self.index = {name: i for i, name in enumerate(policy_names)}
        self.pending: dict[str, _Pending] = {}
        self.compared = 0
        self.changed = [0] * len(policy_names)
        self.rule_changed = [0] * len(policy_names)
        self.groups: list[dict[tuple[str, str, str, str], _Group]] = [{} for _ in policy_names]
        self.changed_by_category: list[Counter[str]] = [Counter() for _ in policy_names]

    def add(self, v: Verdict) -> None:
        """Fold one verdict (the builder has already set repeats aside)."""
        i = self.index[v.policy]
        held = self.pending.get(v.id)
        if held is None:
            held = self.pending[v.id] = _Pending(len(self.names))
        held.slots[i] = (v.decision, v.rule or DEFAULT_RULE)
        if i == 0:
            held.first = v
        if all(slot is not None for slot in held.slots):
            del self.pending[v.id]
            self._compare(held)

    def _compare(self, held: _Pending) -> None:
        self.compared += 1
        base = held.slots[0]
        first = held.first
        assert base is not None and first is not None
        category = first.category or UNREGISTERED
        for j in range(1, len(self.names)):
            other = held.slots[j]
            assert other is not None
            if other[0] == base[0]:
                if other[1] != base[1]:
                    self.rule_changed[j] += 1
                continue
            self.changed[j] += 1
            self.changed_by_category[j][category] += 1
            key = (base[0], base[1], other[0], other[1])
            group = self.groups[j].get(key)
            if group is None:
                group = self.groups[j][key] = _Group()
            group.count += 1
            group.by_category[category] += 1
            _keep_example(group.examples, first)

    def incomplete(self) -> dict[str, int]:
        """Events still waiting, per policy whose verdict never came."""
        missing: Counter[str] = Counter()
        for held in self.pending.values():
            for i, slot in enumerate(held.slots):
                if slot is None:
                    missing[self.names[i]] += 1
        return dict(missing)

    def result(self) -> list[dict]:
        """One entry per shadow: the diff against the enforced policy."""
        out = []
        for j in range(1, len(self.names)):
            groups = sorted(self.groups[j].items(), key=lambda kv: (-kv[1].count, kv[0]))
            out.append(
                {
                    "baseline": self.names[0],
                    "shadow": self.names[j],
                    "events_compared": self.compared,
                    "changed": self.changed[j],
                    "changed_share": self.changed[j] / self.compared if self.compared else 0.0,
                    "rule_changed_same_decision": self.rule_changed[j],
                    "by_category": [
                        {"category": name, "count": count}
                        for name, count in self.changed_by_category[j].most_common()
                    ],
                    "by_transition": [
                        {
                            "from_decision": key[0],
                            "from_rule": key[1],
                            "to_decision": key[2],
                            "to_rule": key[3],
                            "count": group.count,
                            "by_category": dict(group.by_category.most_common()),
                            "examples": [_example(v) for v in group.examples],
                        }
                        for key, group in groups
                    ],
                }
            )
        return out


def _example(v: Verdict) -> dict:
    """An event as evidence: its id to find it again, its source only as a /24 or /48."""
    return {
        "id": v.id,
        "ts": v.ts,
        "src_prefix": prefix_of(v.src) if v.src else None,
        "dst": v.dst,
        "app": v.app,
        "category": v.category,
        "truth": v.truth.label() if v.truth else None,
        "population_group": v.truth.population_group if v.truth else None,
    }
