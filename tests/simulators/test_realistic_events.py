"""Realistic scenarios: labels, moving and shared addresses, approval, response, and a truth
that agrees with the registry the policies read."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from policysim.base.settings import Settings
from policysim.policies.addresses import parse_ip
from policysim.policies.model import decode_event, encode
from policysim.policies.registry_files import load_registry
from policysim.simulators.generator import generate_events
from policysim.simulators.population import build_population
from policysim.simulators.registrations import write_registry
from policysim.simulators.scenario import SCENARIO_DIR, load_scenario

SMALL = (SCENARIO_DIR / "small-isp.yaml").read_text()
BLOCKS = """
classifier:
  labels: [ssl, unknown]
  transports:
    openvpn: {openvpn: 0.85, ssl: 0.10, unknown: 0.05}
    sstp: {sstp: 0.5, ssl: 0.5}
  false_positives:
    https: {openvpn: 0.01}
address_pools:
  fixed: {mode: dynamic, lease_hours: 6, leave_prefix: 0.5}
  mobile: {mode: cgnat, per_address: 8}
enforcement:
  blocking_from: "2024-12-01T00:00:00"
  trials: [{from: "2024-11-30T10:00:00", until: "2024-11-30T12:00:00"}]
  switch_obfuscated: 2
  obfuscated_mix: {sstp: 1}
  switch_unlisted: 1
  unlisted_endpoints: [192.0.2.0/24]
  stop: 0.5
  retries: 1
"""
COUNT = 30_000


def realistic_text() -> str:
    text = SMALL.replace(
        "late_days: 0.5, revoked: 0.05}}",
        "late_days: 0.5, revoked: 0.05},\n                   approval: {median_hours: 3,"
        " p95_hours: 12}, by_subscriber: 0.5, follow_delay_hours: 2}",
    )
    text = text.replace("    registers: never\n", "    registers: never\n    addressing: fixed\n")
    text = text.replace(
        "    categories: [freelancer]\n    registers: eventually\n",
        "    categories: [freelancer]\n    registers: eventually\n    addressing: fixed\n"
        "    business_use: 0.7\n",
    )
    text = text.replace(
        "    diurnal: office\n",
        "    diurnal: office\n    remote_share: 0.3\n    remote_addressing: mobile\n"
        "    business_use: 0.9\n",
    )
    text = text.replace("  household:\n", "  household:\n    addressing: fixed\n")
    text = text.replace("  personal_privacy:\n", "  personal_privacy:\n    addressing: mobile\n")
    return text + BLOCKS


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("realistic")
    path = folder / "realistic.yaml"
    path.write_text(realistic_text())
    population = build_population(load_scenario(path), 3, Settings())
    write_registry(population, folder / "registry.csv")
    lines = [line for _, line in generate_events(population, COUNT)]
    return population, lines, load_registry(folder / "registry.csv", strict=True)


def test_the_scenario_uses_every_block(world) -> None:
    population, _, _ = world
    assert population.scenario.realistic
    assert {p.mode for p in population.addressing.pools} == {"dynamic", "cgnat"}
    assert any(e.timed for e in population.entities)
    assert any(e.applied_at is not None for e in population.entities)


def test_events_are_canonical_counted_and_ordered(world) -> None:
    _, lines, _ = world
    assert len(lines) == COUNT  # retries take the place of ordinary connections
    events = [decode_event(line) for line in lines]
    assert [encode(e) for e in events] == lines
    times = [e.ts for e in events]
    assert times == sorted(times)
    assert len({e.id for e in events}) == COUNT


def test_same_seed_same_events_other_seed_others(world, tmp_path: Path) -> None:
    population, lines, _ = world
    again = build_population(population.scenario, 3, Settings())
    assert [line for _, line in generate_events(again, COUNT)] == lines
    other = build_population(population.scenario, 4, Settings())
    assert [line for _, line in generate_events(other, 1000)] != lines[:1000]


def test_address_coverage_is_what_the_registry_answers(world) -> None:
    _, lines, registry = world
    for event in map(decode_event, lines):
        covered = registry.category_at(parse_ip(event.src), event.ts) is not None
        assert event.truth.address_registered_at_event_time is covered


def test_the_truth_of_labels_sharing_moves_and_approval(world) -> None:
    population, lines, _ = world
    events = [decode_event(line) for line in lines]
    seen: Counter = Counter()
    behind: dict[str, set[str]] = {}
    for e in events:
        t = e.truth
        assert t.app is not None and t.subscriber_id is not None
        assert population.scenario.apps[t.app].vpn is t.is_vpn
        seen["mislabelled VPN"] += t.is_vpn and e.app != t.app
        seen["false positive"] += not t.is_vpn and e.app != t.app
        seen["changed"] += t.address_changed
        seen["remote"] += t.remote
        seen["pending"] += t.registration_pending
        seen["covered, not registered"] += (
            t.is_vpn and t.address_registered_at_event_time and not t.registered_at_event_time
        )
        assert not (t.registration_pending and t.registered_at_event_time)
        assert (t.business_use is not None) <= t.is_vpn
        if t.shared_by:
            behind.setdefault(e.src, set()).add(t.subscriber_id)
            assert len(behind[e.src]) <= t.shared_by
    assert all(seen[k] > 0 for k in seen), seen
    assert any(len(s) > 1 for s in behind.values())


def test_response_to_blocking(world) -> None:
    population, lines, _ = world
    events = [decode_event(line) for line in lines]
    trial = population.scenario.time("2024-11-30T10:00:00")
    before = [e for e in events if e.ts < trial]
    late = [e for e in events if e.ts >= population.scenario.time("2024-12-01T12:00:00")]
    unregistered = [e for e in late if e.truth.is_vpn and not e.truth.registered_at_event_time]
    assert not any(e.dst.startswith("192.0.2.") for e in before)
    assert any(e.dst.startswith("192.0.2.") for e in unregistered)
    switched = Counter(e.truth.app for e in unregistered)
    assert switched["sstp"] > Counter(e.truth.app for e in before if e.truth.is_vpn)["sstp"]


def test_a_registration_that_follows_its_subscriber(world) -> None:
    population, _, registry = world
    addressing = population.addressing
    delay = 2 * 3600
    followed = [e for e in population.entities if e.timed]
    for entity in followed:
        index = population.entities.index(entity)
        (s,) = np.flatnonzero(
            (population.sub_entity == index) & (population.sub_named >= 0)
        ).tolist()
        for prefix, begin, until in entity.timed:
            address = prefix.removesuffix("/32")
            assert registry.category_at(parse_ip(address), begin) == "freelancer"
            if math.isfinite(until) and until - delay > begin:
                # held by the subscriber until `delay` before the grant ends
                assert addressing.texts[addressing.held(s, until - delay - 1)] == address


def test_an_address_registration_stays_when_its_holder_moves(world) -> None:
    population, _, registry = world
    addressing = population.addressing
    end = population.scenario.window[1]
    moved = 0
    for s in np.flatnonzero(population.sub_named >= 0).tolist():
        entity = population.entities[population.sub_entity[s]]
        if entity.timed or entity.revoked_at is not None:
            continue
        named = addressing.texts[population.sub_named[s]]
        assert entity.prefixes[0] == f"{named}/32"
        later = max(entity.registered_at, end - 1)
        assert registry.category_at(parse_ip(named), later) == "freelancer"
        moved += addressing.texts[addressing.held(s, end - 1)] != named
    assert moved > 0


def test_a_cap_on_free_addresses_narrows_what_is_registered(tmp_path: Path) -> None:
    path = tmp_path / "capped.yaml"
    path.write_text(
        SMALL.replace(
            "call_center:    {count: 10, v4_prefix: [27],",
            "call_center:    {count: 10, v4_prefix: [27], max_addresses: 5,",
        )
    )
    population = build_population(load_scenario(path), 3, Settings())
    registry = write_registry(population, tmp_path / "registry.csv")
    granted = {g.prefix for _, _, g in registry.grants() if g.category == "call_center"}
    assert granted and all(p.endswith("/30") for p in granted if ":" not in p)
    events = [decode_event(line) for _, line in generate_events(population, 5000)]
    staff = [e for e in events if e.truth.category == "call_center"]
    assert any(e.truth.registered_at_event_time for e in staff)
    assert any(
        e.truth.registered_at_event_time and not e.truth.address_registered_at_event_time
        for e in staff
    )
