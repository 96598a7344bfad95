"""The calibrated scenario does what it is for: the example policies miss for several reasons
and hit legitimate users for several others, and the same seed gives the same events."""

from __future__ import annotations

from collections import Counter

import pytest

from policysim.base.settings import Settings
from policysim.policies.engine import Engine
from policysim.policies.examples import example_paths
from policysim.policies.language.parser import load_policy
from policysim.policies.model import decode_event
from policysim.simulators.generator import generate_events
from policysim.simulators.population import build_population
from policysim.simulators.registrations import build_registry
from policysim.simulators.scenario import load_scenario

COUNT = 60_000
LABELS = {"wireguard", "openvpn", "ipsec", "l2tp", "pptp", "sstp"}


@pytest.fixture(scope="module")
def run():
    population = build_population(load_scenario("pta-2024"), 1, Settings())
    lines = [line for _, line in generate_events(population, COUNT)]
    return population, lines


def test_same_seed_same_events(run) -> None:
    _, lines = run
    again = build_population(load_scenario("pta-2024"), 1, Settings())
    assert [line for _, line in generate_events(again, COUNT)] == lines


def _cause(verdict, miss: bool) -> str:
    """A plain reading of truth and verdict, enough to tell the causes apart."""
    t = verdict.truth
    if miss:
        if verdict.rule is None:
            return "classifier label" if verdict.app not in LABELS else "no rule"
        if t.registered_at_event_time and not (t.address_changed or t.remote):
            return "a rule allows it"
        return "address registered by someone else"
    if not t.is_vpn:
        return "classifier false positive"
    if t.registration_pending:
        return "approval delay"
    if t.remote:
        return "remote staff"
    if t.address_changed:
        return "registrant on a new address"
    if t.registered_at_event_time:
        return "category left out"
    return "unregistered business use"


def test_the_example_policies_miss_and_hit_for_several_reasons(run) -> None:
    population, lines = run
    policies = [load_policy(p) for p in example_paths()]
    engine = Engine(policies, build_registry(population))
    events = [decode_event(line) for line in lines]
    misses: Counter = Counter()
    collateral: Counter = Counter()
    bad = caught = 0
    for start in range(0, len(events), 4096):
        for verdicts in engine.evaluate(events[start : start + 4096]):
            for v in verdicts:
                legitimate = v.truth.legitimate()
                if v.truth.is_vpn and not legitimate:
                    bad += 1
                    caught += v.decision != "allow"
                    if v.decision == "allow":
                        misses[_cause(v, miss=True)] += 1
                elif legitimate and v.decision != "allow":
                    collateral[_cause(v, miss=False)] += 1
    assert 0.5 < caught / bad < 1.0
    assert len([c for c in misses if misses[c] >= 10]) >= 3, misses
    assert len([c for c in collateral if collateral[c] >= 10]) >= 4, collateral
