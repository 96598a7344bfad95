"""The synthetic population: deterministic, time-ordered, truthful about registration."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from policysim.base.settings import Settings
from policysim.cli import main
from policysim.policies.addresses import parse_ip
from policysim.policies.model import Event, decode_event, encode
from policysim.policies.registry_files import load_registry
from policysim.simulators.generator import generate_events
from policysim.simulators.population import build_population
from policysim.simulators.registrations import build_registry, registry_records
from policysim.simulators.scenario import SCENARIO_DIR, ScenarioError, load_scenario

VPN_APPS = {"wireguard", "openvpn", "ipsec", "l2tp", "pptp", "sstp"}


@pytest.fixture(scope="module")
def small():
    return build_population(load_scenario("small-isp"), 5, Settings())


def _events(population, count: int) -> list[Event]:
    return [decode_event(line) for _, line in generate_events(population, count)]


def test_bundled_scenarios_load() -> None:
    names = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
    assert {"pta-deadline", "small-isp"} <= set(names)
    for name in names:
        assert load_scenario(name).groups
    deadline = load_scenario("pta-deadline")
    assert deadline.deadline_ts == 1732993200.0  # 2024-12-01T00:00+05:00
    assert deadline.window == (1732042800.0, 1733770800.0)


def test_scenario_errors_name_the_field(tmp_path: Path) -> None:
    text = (SCENARIO_DIR / "small-isp.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("vpn_share: 0.4", "vpn_sahre: 0.4", 1))
    with pytest.raises(ScenarioError, match="vpn_sahre"):
        load_scenario(bad)
    bad.write_text(text.replace("ipsec: 0.4", "https: 0.4"))
    with pytest.raises(ScenarioError, match="https is not a VPN app"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="no such scenario"):
        load_scenario(tmp_path / "missing.yaml")


def test_events_are_valid_ordered_and_encoded_canonically(small) -> None:
    lines = [line for _, line in generate_events(small, 20_000)]
    assert len(lines) == 20_000
    events = [decode_event(line) for line in lines]
    assert all(isinstance(e, Event) for e in events)
    assert [encode(e) for e in events] == lines  # the exact bytes of the event model
    times = [e.ts for e in events]
    assert times == sorted(times)
    start, end = small.scenario.window
    assert start <= times[0] and times[-1] < end
    assert len({e.id for e in events}) == len(events)


def test_truth_matches_the_registry_and_the_apps(small) -> None:
    events = _events(small, 20_000)
    view = build_registry(small).view(None)
    for e in events:
        assert e.truth is not None
        assert view.contains(parse_ip(e.src), e.ts) == e.truth.registered_at_event_time
        assert e.truth.is_vpn == (e.app in VPN_APPS)
        assert (e.truth.entity_id is None) == (e.truth.category is None)
    groups = Counter(e.truth.population_group for e in events)
    assert set(groups) == set(small.scenario.groups)
    unregistered = [e for e in events if e.truth.population_group == "unregistered_freelancer"]
    assert unregistered and not any(e.truth.registered_at_event_time for e in unregistered)
    ports = {(e.app, e.proto, e.dport) for e in events if e.truth.is_vpn}
    assert ("wireguard", "udp", 51820) in ports and ("ipsec", "udp", 4500) in ports


def test_registrations_are_in_event_time_order_and_late_ones_exist(small) -> None:
    records = registry_records(small)

    def when(record):
        return record.registered_at or record.revoked_at

    assert [when(r) for r in records] == sorted(when(r) for r in records)
    deadline = small.scenario.deadline_ts
    registered = [e.registered_at for e in small.entities if e.registered_at is not None]
    assert any(t < deadline for t in registered) and any(t >= deadline for t in registered)
    assert any(r.revoked_at for r in records)
    never = [e for e in small.entities if e.registered_at is None]
    assert never and not {e.entity_id for e in never} & {r.entity_id for r in records}


def test_evening_peak_in_household_traffic(small) -> None:
    tz = small.scenario.tz
    hours = Counter(
        datetime.fromtimestamp(e.ts, tz).hour
        for e in _events(small, 20_000)
        if e.truth.population_group == "household"
    )
    assert max(hours, key=hours.get) in {20, 21, 22}
    assert hours[21] > 4 * hours[4]


def test_same_seed_same_bytes_any_output(tmp_path: Path) -> None:
    """Two runs (one paced) give byte-identical events and registries; another seed differs."""
    runs = []
    for name, extra in (("a", []), ("b", ["--rate", "20000"]), ("c", ["--seed", "8"])):
        out, reg = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.csv"
        args = ["simulate", "--scenario", "small-isp", "--events", "3000", "--no-progress"]
        if "--seed" not in extra:
            args += ["--seed", "7"]
        code = main([*args, *extra, "--out", str(out), "--registry-out", str(reg)])
        assert code == 0
        runs.append((out.read_bytes(), reg.read_bytes()))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]
    assert load_registry(tmp_path / "a.csv").stats()["entities"] > 0


def test_registry_jsonl_and_registrations_file(tmp_path: Path) -> None:
    reg, regs = tmp_path / "r.jsonl", tmp_path / "regs.jsonl"
    out = tmp_path / "e.jsonl"
    args = ["simulate", "--scenario", "small-isp", "--events", "10", "--no-progress"]
    assert (
        main(
            [*args, "--out", str(out), "--registry-out", str(reg), "--registrations-out", str(regs)]
        )
        == 0
    )
    loaded = load_registry(reg)
    assert not loaded.problems
    assert len(regs.read_text().splitlines()) == len(
        registry_records(build_population(load_scenario("small-isp"), 1, Settings()))
    )
