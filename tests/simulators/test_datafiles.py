"""The real address lists: bundled with the package, replaced by a data folder that has its own."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import pytest

from policysim.base.settings import Settings, load_settings
from policysim.policies.model import decode_event
from policysim.simulators import datafiles
from policysim.simulators.generator import generate_events
from policysim.simulators.population import build_population
from policysim.simulators.scenario import load_scenario

BUNDLED = datafiles.BUNDLED_CIDR


def test_the_bundled_lists_are_used_when_the_data_folder_is_absent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=str(tmp_path / "nowhere"))
    with caplog.at_level(logging.WARNING):
        population = build_population(load_scenario("pta-deadline"), 1, settings)
        events = [decode_event(line) for _, line in generate_events(population, 2000)]
    assert population.origins == {
        "subscriber_space": str(BUNDLED),
        "vpn_endpoints": str(BUNDLED / "vpn-providers"),
    }
    assert len(events) == 2000
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    cidrs, _ = datafiles.subscriber_cidrs(settings)
    assert len(cidrs) == 673 + 308
    space = [ipaddress.ip_network(c) for c in cidrs]
    assert sum(n.num_addresses for n in space if n.version == 4) == 5_441_024
    endpoints, _ = datafiles.vpn_endpoints(settings)
    assert len(endpoints) == 14_693 + 1_607
    assert endpoints == sorted(set(endpoints))


def test_a_data_folder_with_its_own_lists_takes_their_place(tmp_path: Path) -> None:
    (tmp_path / "cidr" / "vpn-providers").mkdir(parents=True)
    (tmp_path / "cidr" / "pk-ipv4.cidr").write_text("# ours\n10.0.0.0/8\n")
    (tmp_path / "cidr" / "pk-ipv6.cidr").write_text("fd00::/8  # ours too\n")
    (tmp_path / "cidr" / "vpn-providers" / "one.txt").write_text("192.0.2.9\n192.0.2.1\n")
    settings = Settings(data_dir=str(tmp_path))
    assert datafiles.subscriber_cidrs(settings) == (
        ["10.0.0.0/8", "fd00::/8"],
        str(tmp_path / "cidr"),
    )
    assert datafiles.vpn_endpoints(settings) == (
        ["192.0.2.1", "192.0.2.9"],
        str(tmp_path / "cidr" / "vpn-providers"),
    )


def test_the_bundled_lists_are_unchanged_copies_of_the_shared_data() -> None:
    shared = datafiles.data_dir(load_settings()) / "cidr"  # POLICYSIM_DATA_DIR may move it
    if not shared.is_dir():
        pytest.skip(f"shared data not found at {shared}")
    names = sorted(p.relative_to(shared) for p in shared.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(BUNDLED) for p in BUNDLED.rglob("*") if p.is_file())
    for name in names:
        assert (BUNDLED / name).read_bytes() == (shared / name).read_bytes(), name
