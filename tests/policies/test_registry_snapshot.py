"""Registry snapshots: answers unchanged after a round trip; damage refused, never half-loaded."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from test_registry_reference import QUERIES, Reference, _apply_both, _check, records

from policysim.policies import ipset_file, registry_snapshot
from policysim.policies.addresses import parse_ip
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
    assert list(loaded.records()) == list(registry.records())
    for query in QUERIES:
        ip = parse_ip(query)
        assert loaded.explain(ip, 150.0, include_inactive=True) == registry.explain(
            ip, 150.0, include_inactive=True
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records, records)
def test_a_loaded_snapshot_takes_updates_exactly(
    first: list[RegistryRecord], then: list[RegistryRecord]
) -> None:
    registry, reference = Registry(), Reference()
    for item in first:
        _apply_both(registry, reference, item)
    loaded = registry_snapshot.from_bytes(registry_snapshot.to_bytes(registry))
    for item in then:
        _apply_both(loaded, reference, item)
        with contextlib.suppress(ValueError):  # refused by both
            registry.apply(item)
    _check(loaded, reference)
    assert loaded.version == registry.version
    assert loaded.counts() == registry.counts()
    for query in QUERIES:
        ip = parse_ip(query)
        assert _grant(loaded.find(ip, 150.0)) == _grant(registry.find(ip, 150.0))
    assert list(loaded.records()) == list(registry.records())
    assert registry_snapshot.to_bytes(loaded) == registry_snapshot.to_bytes(registry)


def _grant(grant: object) -> tuple | None:
    return grant and (grant.entity_id, grant.category, grant.prefix, grant.start, grant.until)


def test_times_and_names_come_back_as_they_were_given() -> None:
    """ISO times, whole-number epochs and revocations are kept as given, not as floats."""
    registry = Registry()
    registry.apply(
        RegistryRecord("e1", "Acme", "bank", ["10.0.0.0/8", "2001:db8::/32"],
                       "2026-11-01T00:00:00+05:00", 1_800_000_000, "2026-12-01T00:00:00Z")
    )  # fmt: skip
    registry.apply(RegistryRecord("e2", None, "freelancer", ["::/0"], 100.5))
    registry.apply(RegistryRecord("e2", revoked_at="2026-11-15T00:00:00Z"))
    loaded = registry_snapshot.from_bytes(registry_snapshot.to_bytes(registry))
    assert list(loaded.records()) == list(registry.records())
    assert loaded.stats() == registry.stats()
    ip = parse_ip("10.1.2.3")
    assert loaded.explain(ip, 0.0, include_inactive=True) == registry.explain(
        ip, 0.0, include_inactive=True
    )


def test_an_empty_registry_round_trips() -> None:
    loaded = registry_snapshot.from_bytes(registry_snapshot.to_bytes(Registry()))
    assert list(loaded.records()) == []
    assert loaded.view(None).contains(parse_ip("10.0.0.1"), 0.0) is False


@pytest.mark.parametrize("older", [1, 2, 4, 5])
def test_a_snapshot_of_an_older_format_asks_to_compile_again(tmp_path: Path, older: int) -> None:
    path = tmp_path / "old.registry"
    path.write_bytes(ipset_file.pack(registry_snapshot.KIND, older, [b"\x80", b"\x90"]))
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    message = str(caught.value.problems[0])
    assert message.startswith(f"{path}: registry snapshot refused: ")
    assert "older policysim" in message
    assert message.endswith("compile it again with policysim registry compile")


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


def test_more_categories_than_the_probe_mask_round_trip() -> None:
    registry = Registry()
    for i in range(70):
        registry.apply(RegistryRecord(f"e{i}", None, f"c{i}", [f"10.0.{i}.0/24"]))
    loaded = registry_snapshot.from_bytes(registry_snapshot.to_bytes(registry))
    ips = [parse_ip("10.0.65.1"), parse_ip("10.0.3.1"), parse_ip("11.0.0.1")]
    assert loaded.categories_batch(ips, [0.0] * 3) == ["c65", "c3", None]
    assert list(loaded.records()) == list(registry.records())


@pytest.mark.parametrize("enabled", [True, False])
def test_bulk_loads_leave_the_garbage_collector_as_they_found_it(enabled: bool) -> None:
    import gc

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        registry = Registry()
        with registry.bulk():
            registry.apply(RegistryRecord("e1", None, "bank", ["10.0.0.0/8"]))
            assert not gc.isenabled()
        registry_snapshot.from_bytes(registry_snapshot.to_bytes(registry))
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_a_loaded_snapshot_answers_before_it_makes_grant_objects() -> None:
    """Lookups, batches and stats come from the stored indexes; a change makes objects of the
    grants it touches only (its entity's, and those of its prefixes), and is answered at once."""
    registry = Registry()
    registry.apply(RegistryRecord("a", "Acme", "bank", ["10.0.0.0/8", "2001:db8::/32"], 100.0))
    registry.apply(RegistryRecord("b", None, "freelancer", ["10.1.0.0/16"], None, 200.0))
    registry.apply(RegistryRecord("d", None, "bank", ["12.0.0.0/8"]))
    loaded = registry_snapshot.from_bytes(registry_snapshot.to_bytes(registry))
    ips = [parse_ip("10.1.0.1"), parse_ip("2001:db8::1"), parse_ip("11.0.0.1")]
    assert [loaded.category_at(ip, 150.0) for ip in ips] == ["freelancer", "bank", None]
    assert loaded.view(["bank"]).contains_batch(ips, [250.0] * 3).tolist() == [True, True, False]
    assert loaded.stats() == registry.stats()
    assert loaded._pending is not None  # nothing made per grant yet
    loaded.apply(RegistryRecord("c", None, "it_company", ["11.0.0.0/24"], 0.0))
    loaded.apply(RegistryRecord("a", revoked_at=120.0))
    assert loaded._pending is not None
    assert sorted(grant.prefix for grant in loaded._made.values()) == [
        "10.0.0.0/8",
        "2001:db8::/32",
    ]
    assert loaded.category_at(ips[2], 150.0) == "it_company"
    assert loaded.view(["it_company"]).contains(ips[2], 150.0)
    assert loaded.category_at(parse_ip("10.2.0.1"), 110.0) == "bank"
    assert loaded.category_at(parse_ip("10.2.0.1"), 130.0) is None
    registry.apply(RegistryRecord("c", None, "it_company", ["11.0.0.0/24"], 0.0))
    registry.apply(RegistryRecord("a", revoked_at=120.0))
    assert loaded.counts() == registry.counts()
    assert list(loaded.records()) == list(registry.records())
    assert registry_snapshot.to_bytes(loaded) == registry_snapshot.to_bytes(registry)


def _two_registries() -> tuple[Registry, Registry]:
    first, second = Registry(), Registry()
    first.apply(RegistryRecord("a", "Acme", "bank", ["10.0.0.0/8"], 100.0))
    second.apply(RegistryRecord("b", None, "freelancer", ["11.0.0.0/8", "2001:db8::/32"]))
    return first, second


def test_a_snapshot_file_rewritten_after_the_load_is_refused_when_read_again(
    tmp_path: Path,
) -> None:
    """A loaded file's index is in memory and answers; its grant columns are read from the
    file on the first change, and a file rewritten in place since is refused, not misread."""
    first, second = _two_registries()
    path = tmp_path / "r.registry"
    registry_snapshot.save(first, path)
    loaded = registry_snapshot.load(path)
    path.write_bytes(registry_snapshot.to_bytes(second))
    assert loaded.view(None).contains(parse_ip("10.0.0.1"), 150.0)
    with pytest.raises(SnapshotError, match="changed on disk after it was loaded"):
        loaded.apply(RegistryRecord("c", None, "bank", ["12.0.0.0/8"]))


def test_a_snapshot_renamed_over_a_loaded_one_leaves_it_whole(tmp_path: Path) -> None:
    """Replacing the file by a rename (as ``registry compile`` writes) keeps the loaded one's
    own file open and readable."""
    first, second = _two_registries()
    path, fresh = tmp_path / "r.registry", tmp_path / "new.registry"
    registry_snapshot.save(first, path)
    loaded = registry_snapshot.load(path)
    registry_snapshot.save(second, fresh)
    os.replace(fresh, path)
    assert list(loaded.records()) == list(first.records())
    assert list(registry_snapshot.load(path).records()) == list(second.records())


def test_a_change_to_a_loaded_snapshot_reads_only_what_it_touches(tmp_path: Path) -> None:
    """Its grant columns and bit sets stay in the file; the entities are found by id there."""
    registry = Registry()
    ids = [f"ent-{n:04d}-ü" if n % 3 else f"E{n}" for n in range(300)]
    with registry.bulk():
        for n, entity_id in enumerate(ids):
            registry.apply(
                RegistryRecord(entity_id, f"Name {n}", "bank", [f"10.{n % 250}.{n // 250}.0/24"])
            )
    path = tmp_path / "r.registry"
    registry_snapshot.save(registry, path)
    loaded = registry_snapshot.load(path)
    loaded.apply(RegistryRecord("new", None, "freelancer", ["10.7.0.0/24"], 100.0))
    loaded.apply(RegistryRecord(ids[7], revoked_at=50.0))
    stored = loaded._stored
    assert loaded._all_set is None and loaded._category_sets is None
    assert stored.columns._arrays is None
    assert [stored.entities.number(entity_id) for entity_id in ids] == list(range(len(ids)))
    assert stored.entities.number("ent-") is None and stored.entities.number("zzz") is None
    registry.apply(RegistryRecord("new", None, "freelancer", ["10.7.0.0/24"], 100.0))
    registry.apply(RegistryRecord(ids[7], revoked_at=50.0))
    for ts in (0.0, 60.0, 150.0):
        for address in ("10.7.0.1", "10.8.0.1", "10.7.1.1"):
            ip = parse_ip(address)
            assert loaded.category_at(ip, ts) == registry.category_at(ip, ts)
    assert registry_snapshot.to_bytes(loaded) == registry_snapshot.to_bytes(registry)
