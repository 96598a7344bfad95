"""Registry snapshots: answers unchanged after a round trip; damage refused, never half-loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from test_registry_reference import Reference, _apply_both, _check, records

from policysim.policies import registry_snapshot
from policysim.policies.ipset_file import SnapshotError
from policysim.policies.registry import Registry, RegistryError, RegistryRecord
from policysim.policies.registry_files import load_registry


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_a_snapshot_answers_like_its_registry(items: list[RegistryRecord]) -> None:
    registry, reference = Registry(), Reference()
    for item in items:
        _apply_both(registry, reference, item)
    loaded = registry_snapshot.from_bytes(registry_snapshot.to_bytes(registry))
    assert loaded.version == registry.version
    _check(loaded, reference)


def test_load_registry_tells_a_snapshot_by_its_content(tmp_path: Path) -> None:
    registry = Registry()
    registry.apply(RegistryRecord("e1", "Acme", "bank", ["10.0.0.0/8"], 100.0))
    path = tmp_path / "any-name.bin"
    registry_snapshot.save(registry, path)
    assert list(load_registry(path).records()) == list(registry.records())


@pytest.mark.parametrize("cut", [3, 20, -1])
def test_a_truncated_snapshot_is_refused(tmp_path: Path, cut: int) -> None:
    registry = Registry()
    registry.apply(RegistryRecord("e1", "Acme", "bank", ["10.0.0.0/8"], 100.0))
    data = registry_snapshot.to_bytes(registry)
    with pytest.raises(SnapshotError):
        registry_snapshot.from_bytes(data[:cut])
    path = tmp_path / "r.registry"
    path.write_bytes(data[:cut])
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert str(caught.value.problems[0]).startswith(f"{path}: registry snapshot refused: ")


def test_a_snapshot_of_another_kind_is_refused(tmp_path: Path) -> None:
    from policysim.policies.ipset import IPSet

    path = tmp_path / "set.registry"
    IPSet.from_cidrs(["10.0.0.0/8"]).save(path)
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert "expected b'REGS'" in str(caught.value.problems[0])
