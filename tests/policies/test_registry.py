"""The registry: as-of-time membership, incremental updates, files with line-numbered problems."""

from __future__ import annotations

import ipaddress
import math

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policysim.policies.addresses import parse_ip
from policysim.policies.registry import Registry, RegistryError, RegistryRecord
from policysim.policies.registry_files import load_registry, write_csv, write_jsonl

T0 = 1_730_000_000.0  # 2024-10-27, epoch seconds
DAY = 86_400.0

POOL = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "192.0.2.0/24", "0.0.0.0/0",
        "2400:adc0::/32", "2400:adc0:1::/48", "2400:adc0:1::5", "::ffff:10.9.0.0/112"]  # fmt: skip
QUERIES = ["10.1.2.3", "10.1.2.4", "10.200.0.1", "192.0.2.255", "8.8.8.8", "2400:adc0:1::5",
           "2400:adc0:2::1", "2400:adc1::1", "10.9.3.4", "::ffff:10.1.2.3"]  # fmt: skip
CATEGORIES = ["bank", "freelancer", "it_company"]


def record(entity: str, prefixes: list[str], start=None, end=None, category="freelancer", **kw):
    return RegistryRecord(entity, f"{entity} Ltd", category, prefixes, start, end, **kw)


def at(days: float) -> float:
    return T0 + days * DAY


def test_membership_follows_event_time() -> None:
    registry = Registry()
    registry.apply(record("e1", ["39.40.0.0/16"], at(1), at(10)))
    view = registry.view(None)
    ip = parse_ip("39.40.1.2")
    assert [view.contains(ip, at(d)) for d in (0.5, 1, 5, 10, 11)] == [
        False, True, True, False, False,
    ]  # fmt: skip
    assert registry.category_at(ip, at(5)) == "freelancer"
    assert registry.category_at(ip, at(11)) is None
    assert registry.category_at(parse_ip("8.8.8.8"), at(5)) is None


def test_revocation_ends_earlier_grants_only() -> None:
    registry = Registry()
    registry.apply(record("e1", ["39.40.0.0/16"], at(1)))
    registry.apply(RegistryRecord("e1", revoked_at=at(5)))
    registry.apply(record("e1", ["39.41.0.0/16"], at(7)))
    view = registry.view(["freelancer"])
    assert view.contains(parse_ip("39.40.0.1"), at(4))
    assert not view.contains(parse_ip("39.40.0.1"), at(6))
    assert view.contains(parse_ip("39.41.0.1"), at(8))


def test_apply_is_incremental_and_versioned() -> None:
    registry = Registry()
    bank_view = registry.view(["bank"])
    everyone = registry.view(None)
    ip = parse_ip("203.0.113.7")
    assert not everyone.contains(ip, at(1))
    registry.apply(record("b1", ["203.0.113.0/24"], category="bank"))
    assert registry.version == 1
    assert bank_view.contains(ip, at(1)) and everyone.contains(ip, at(1))
    registry.apply(record("b1", ["203.0.113.0/24"], category="bank"))  # a redelivery
    assert registry.version == 1
    registry.apply(record("f1", ["198.51.100.0/24"]))
    assert not bank_view.contains(parse_ip("198.51.100.1"), at(1))
    assert registry.version == 2
    assert bank_view.contains_batch([ip, parse_ip("198.51.100.1")], [at(1)] * 2).tolist() == [
        True, False,
    ]  # fmt: skip


def test_bad_records_change_nothing() -> None:
    registry = Registry()
    bad = [
        record("e1", ["10.0.0.1/8"]),
        record("e1", ["10.0.0.0/8"], "yesterday"),
        record("e1", ["10.0.0.0/8"], "2024-11-01T00:00:00"),
        record("e1", ["10.0.0.0/8"], at(5), at(5)),
        record("", ["10.0.0.0/8"]),
        record("e1", ["10.0.0.0/8"], category=None),
        RegistryRecord("e1"),
    ]
    for item in bad:
        with pytest.raises(ValueError):
            registry.apply(item)
    assert registry.version == 0
    assert registry.stats()["grants"] == 0


def test_explain_names_entity_and_prefix() -> None:
    registry = Registry()
    registry.apply(record("e1", ["10.0.0.0/8"], "2024-11-01T00:00:00+05:00"))
    registry.apply(record("e2", ["10.1.0.0/16"], category="bank"))
    matches = registry.explain(parse_ip("10.1.2.3"), at(30))
    assert [(m.entity_id, m.prefix, m.category) for m in matches] == [
        ("e2", "10.1.0.0/16", "bank"), ("e1", "10.0.0.0/8", "freelancer"),
    ]  # fmt: skip
    assert registry.explain(parse_ip("10.1.2.3"), at(0)) == matches[:1]
    assert len(registry.explain(parse_ip("10.1.2.3"), at(0), include_inactive=True)) == 2


times = st.one_of(st.none(), st.integers(0, 10).map(at))
grant_records = st.builds(
    record,
    st.sampled_from(["e1", "e2", "e3"]),
    st.lists(st.sampled_from(POOL), min_size=1, max_size=3),
    times,
    times,
    st.sampled_from(CATEGORIES),
)
revocations = st.builds(
    lambda entity, t: RegistryRecord(entity, revoked_at=t),
    st.sampled_from(["e1", "e2", "e3"]),
    st.integers(0, 10).map(at),
)


def _valid(item: RegistryRecord) -> bool:
    start = -math.inf if item.registered_at is None else item.registered_at
    end = math.inf if item.expires_at is None else item.expires_at
    return not item.prefixes or start < end


def _covers(prefix: str, text: str) -> bool:
    address = ipaddress.ip_address(text)
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    network = ipaddress.ip_network(prefix)
    if network.version == 6 and address.version == 4:
        address = ipaddress.IPv6Address((0xFFFF << 32) | int(address))
    return address in network


def _reference(records: list[RegistryRecord], text: str, ts: float, categories) -> bool:
    revoked: dict[str, list[float]] = {}
    for item in records:
        if not item.prefixes:
            revoked.setdefault(item.entity_id, []).append(item.revoked_at)
    for item in records:
        start = -math.inf if item.registered_at is None else item.registered_at
        end = math.inf if item.expires_at is None else item.expires_at
        end = min([end, *(t for t in revoked.get(item.entity_id, []) if t >= start)])
        if categories is not None and item.category not in categories:
            continue
        if start <= ts < end and any(_covers(p, text) for p in item.prefixes):
            return True
    return False


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(grant_records, revocations), max_size=10).map(
        lambda items: [i for i in items if _valid(i)]
    ),
    st.sampled_from([None, frozenset(["bank"]), frozenset(["freelancer", "it_company"])]),
)
def test_views_equal_reference(records: list[RegistryRecord], categories) -> None:
    registry = Registry()
    view = registry.view(categories)  # created first: it must follow later changes
    for item in records:
        registry.apply(item)
    moments = [at(d) for d in (-1, 0, 0.5, 1, 3, 5, 5.5, 9, 10, 11)]
    ips = [parse_ip(q) for q in QUERIES for _ in moments]
    stamps = moments * len(QUERIES)
    expected = [_reference(records, q, t, categories) for q in QUERIES for t in moments]
    assert [view.contains(ip, t) for ip, t in zip(ips, stamps, strict=True)] == expected
    assert view.contains_batch(ips, stamps).tolist() == expected
    all_categories = registry.categories_batch(ips, stamps)
    assert [c is not None for c in all_categories] == [
        _reference(records, q, t, None) for q in QUERIES for t in moments
    ]
    assert [
        registry.category_at(ip, t) for ip, t in zip(ips, stamps, strict=True)
    ] == all_categories


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(grant_records, revocations), max_size=8))
def test_written_files_load_back_the_same(tmp_path_factory, records: list[RegistryRecord]) -> None:
    registry = Registry()
    for item in records:
        if _valid(item):
            registry.apply(item)
    folder = tmp_path_factory.mktemp("registry")
    write_csv(registry, folder / "r.csv")
    write_jsonl(registry, folder / "r.jsonl")
    from_csv = load_registry(folder / "r.csv", strict=True)
    from_jsonl = load_registry(folder / "r.jsonl", strict=True)
    assert list(from_jsonl.records()) == list(registry.records())
    moments = [at(d) for d in (-1, 0, 1, 4, 5, 6, 10, 11)]
    for query in QUERIES:
        ip = parse_ip(query)
        for t in moments:
            expected = registry.category_at(ip, t)
            assert from_csv.category_at(ip, t) == expected
            assert from_jsonl.category_at(ip, t) == expected


def test_csv_problems_point_at_the_field(tmp_path) -> None:
    path = tmp_path / "registry.csv"
    path.write_text(
        "entity_id,name,category,prefix,registered_at,expires_at\n"
        "e1,Acme,it_company,39.40.0.0/16,2024-11-01T00:00:00+05:00,\n"
        "e2,Bad,it_company,39.40.0.1/16,,\n"
        "\n"
        "e3,Late,bank,10.0.0.0/8,2024-11-01T00:00:00,\n"
        "e4,Short,bank\n"
        "e5,Fine,bank,2400:adc0::/32,1730000000,1731000000\n"
        '"e6","Quoted, Inc.",,10.1.0.0/16,,\n'
        "e7,Backwards,bank,10.2.0.0/16,1731000000,1730000000\n"
        ",Nobody,bank,10.3.0.0/16,,\n"
        "e9,Empty,bank,,,\n"
    )
    registry = load_registry(path)
    messages = [str(p).removeprefix(f"{path}:") for p in registry.problems]
    assert messages == [
        "3:19: bad prefix: host bits set in '39.40.0.1/16' (the network is 39.40.0.0/16)",
        "5:25: registered_at '2024-11-01T00:00:00' has no UTC offset: add one, as in"
        " 2024-12-01T00:00:00+05:00 (Z for UTC)",
        "6: this row has 3 fields but the header has 6"
        " (entity_id,name,category,prefix,registered_at,expires_at):"
        " a field is missing or there is a comma too many",
        "8:21: entity 'e6' has no category: give one, such as freelancer or bank",
        "9:42: expires_at '1730000000' is not after registered_at '1731000000':"
        " a registration must end after it starts",
        "10:1: entity_id is empty: every record needs the id of the registered business or person",
        "11:15: the prefix is empty: each row registers one address or CIDR prefix",
    ]
    assert registry.stats()["grants"] == 2
    with pytest.raises(RegistryError) as refused:
        load_registry(path, strict=True)
    assert refused.value.problems == registry.problems
    assert str(refused.value) == "\n".join(str(p) for p in registry.problems)


def test_csv_header_is_checked(tmp_path) -> None:
    path = tmp_path / "registry.csv"
    path.write_text("entity,name,category,prefix,registered_at,expires_at\ne1,,,10.0.0.0/8,,\n")
    with pytest.raises(RegistryError) as refused:
        load_registry(path)
    assert [str(p).removeprefix(f"{path}:") for p in refused.value.problems] == [
        "1: the header lacks the column(s) entity_id: a registry CSV starts with the line"
        " entity_id,name,category,prefix,registered_at,expires_at (a revoked_at column may follow)",
        "1:1: unknown column 'entity' (expected one of: entity_id, name, category, prefix,"
        " registered_at, expires_at, revoked_at); did you mean 'entity_id'?",
    ]


def test_jsonl_problems_point_at_the_field(tmp_path) -> None:
    path = tmp_path / "registry.jsonl"
    lines = [
        {"entity_id": "e1", "name": "A", "category": "bank", "prefixes": ["10.0.0.0/8"],
         "registered_at": "2024-11-01T00:00:00+05:00"},
        {"entity_id": "e1", "revoked_at": "2024-12-01T00:00:00+05:00"},
        {"entity_id": "e2", "category": "bank", "prefixes": ["not-a-prefix"]},
        {"entity_id": 5},
        {"name": "no id"},
    ]  # fmt: skip
    text = "\n".join(msgspec.json.encode(line).decode() for line in lines) + "\n{not json\n"
    path.write_text(text)
    registry = load_registry(path)
    messages = [str(p).removeprefix(f"{path}:") for p in registry.problems]
    assert messages == [
        "3:37: bad prefix: not an IP address: 'not-a-prefix'",
        "4:2: entity_id: expected `str`, got `int`",
        "5: the record lacks entity_id, which every record needs",
        "6:2: this line is not valid JSON: JSON is malformed: object keys must be strings (byte 1)",
    ]
    assert registry.version == 2
    december = parse_ip("10.1.1.1")
    assert registry.category_at(december, at(10)) == "bank"
    assert registry.category_at(december, at(40)) is None


def test_unreadable_or_unknown_files(tmp_path) -> None:
    missing = tmp_path / "missing.csv"
    with pytest.raises(RegistryError) as refused:
        load_registry(missing)
    assert str(refused.value) == f"{missing}: file not found"
    other = tmp_path / "registry.txt"
    other.write_text("x")
    with pytest.raises(RegistryError) as refused:
        load_registry(other)
    assert str(refused.value) == (
        f"{other}: a registry file must end in .csv or .jsonl (JSON lines) or be a snapshot"
        " from policysim registry compile, not .txt"
    )
