"""A plain CSV read in bulk gives the very registry the record path gives: the same snapshot
bytes (grants, entities, raw times, indexes, sets), the same answers and listings."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_registry_reference import PREFIXES, QUERIES

from policysim.policies import registry_columns, registry_files, registry_snapshot
from policysim.policies.addresses import parse_ip
from policysim.policies.prefixes import network_text, parse_prefix
from policysim.policies.registry import RegistryRecord
from policysim.policies.registry_files import load_registry

HEADER = "entity_id,name,category,prefix,registered_at,expires_at,revoked_at"
STARTS = ["", "", "", "100", "100.0", "200", "2026-11-01T00:00:00Z"]
ENDS = ["", "", "", "", "300", "1800000000", "200"]
REVOKED = ["", "", "", "", "", "150", "200", "300", "soon"]

rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(["", "Acme", "Bee Ltd"]),
        st.sampled_from(["bank", "freelancer", "it_company"]),
        st.sampled_from(
            # texts that are not the canonical ones too: a length with a leading zero, capitals
            [*PREFIXES, "10.1.0.3/24", "::ffff:10.1.0.0/104", "10.0.0.0/08", "2001:DB8::/032"]
        ),
        st.sampled_from(STARTS),
        st.sampled_from(ENDS),
        st.sampled_from(REVOKED),
    ),
    min_size=1,
    max_size=14,
)


def _record_path(path: Path, monkeypatch) -> registry_files.Registry:
    with monkeypatch.context() as patch:
        patch.setattr(registry_files, "_plain_csv", lambda text: None)
        return load_registry(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(items=rows)
def test_a_plain_csv_in_bulk_is_the_registry_the_records_give(
    items: list[tuple], tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "registry.csv"
    path.write_text("\n".join([HEADER, *(",".join(row) for row in items)]) + "\n")
    columns = registry_columns.plain_columns(path.read_text().partition("\n")[2], HEADER.split(","))
    bulk = registry_columns.build(columns, len(items))
    slow = _record_path(path, monkeypatch)
    assert (bulk is None) == bool(slow.problems)  # bulk exactly when every row is valid
    if bulk is None:
        return
    assert registry_snapshot.to_bytes(bulk) == registry_snapshot.to_bytes(slow)
    for query in QUERIES:
        ip = parse_ip(query)
        for ts in (0.0, 150.0, 300.0, 1.8e9):
            assert bulk.category_at(ip, ts) == slow.category_at(ip, ts)
    assert bulk.stats() == slow.stats()
    entity_id, _, category, prefix = items[0][:4]  # changes after the load: the bulk one's
    for registry in (bulk, slow):  # grants are made only as they are touched
        registry.apply(RegistryRecord(entity_id, revoked_at=150.0))
        registry.apply(RegistryRecord("e", None, category, [prefix], 100.0, 250.0))
    for query in QUERIES:
        ip = parse_ip(query)
        for ts in (0.0, 120.0, 150.0, 200.0, 300.0):
            assert bulk.category_at(ip, ts) == slow.category_at(ip, ts)
    assert bulk.counts() == slow.counts()
    assert list(bulk.records()) == list(slow.records())
    assert bulk.explain(parse_ip("10.1.0.1"), 150.0, True) == slow.explain(
        parse_ip("10.1.0.1"), 150.0, True
    )
    assert registry_snapshot.to_bytes(bulk) == registry_snapshot.to_bytes(slow)


def test_a_file_that_is_not_plain_goes_the_record_path(tmp_path: Path) -> None:
    path = tmp_path / "registry.csv"
    path.write_text(f'{HEADER}\na,"Acme, Inc",bank,10.0.0.0/8,,,\nb,,bank,10.1.0.0/16,,,\n')
    registry = load_registry(path)
    assert registry._pending is None  # applied record by record
    assert registry.category_at(parse_ip("10.1.0.1"), 0.0) == "bank"
    assert [record.name for record in registry.records()] == ["Acme, Inc", None]


def test_line_breaks_are_the_csv_module_s(tmp_path: Path) -> None:
    """CRLF files are plain; a form feed is field text, as for the csv module, never a row."""
    path = tmp_path / "registry.csv"
    path.write_bytes(f"{HEADER}\r\na,,bank,10.0.0.0/8,,,\r\n".encode())
    assert load_registry(path)._pending is not None  # read in bulk
    path.write_text(f"{HEADER}\na,,bank,10.0.0.0/8,,,\x0cb,,bank,10.1.0.0/16,,,\n")
    assert load_registry(path).problems  # one row of 13 fields, as the record path reads it


ODD_TEXTS = ["10.0.0.0/8", "10.0.0.0/08", "10.0.0.1", "010.0.0.0/8", "10.0.0.1/24", "1.2.3.4/33",
             "0.0.0.0/0", "::/0", "::/00", "2001:DB8::/32", "2001:db8:0::/48", "2001:db8::1",
             "::ffff:10.1.0.0/120", "::ffff:a01:0/120", "::ffff:0:0/80", "::1.2.3.4/128",
             "fe80::1%eth0/128", "2001:db8::/129", "2001:db8::1/64", "2001:db8::/ 32", "::/x",
             ""]  # fmt: skip


def _ipv6_text(value: int, length: int, network: bool, upper: bool) -> str:
    """An IPv6 prefix text: the network's or an address inside it (host bits set), in capitals
    or not."""
    if network:
        value = value >> (128 - length) << (128 - length)
    text = f"{ipaddress.IPv6Address(value)}/{length}"
    return text.upper() if upper else text


prefix_texts = st.one_of(
    st.sampled_from(ODD_TEXTS),
    st.builds(
        _ipv6_text, st.integers(0, 2**128 - 1), st.integers(0, 128), st.booleans(), st.booleans()
    ),
)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(prefix_texts, min_size=1, max_size=6))
def test_prefixes_read_in_bulk_are_parse_prefix_s(texts: list[str]) -> None:
    """IPv4 and IPv6 texts packed in one pass each read as ``parse_prefix`` reads them one by
    one, are refused when one of them is, and are called canonical only when they are."""
    try:
        expected = [parse_prefix(text) for text in texts]
    except ValueError:
        expected = None
    parsed = registry_columns._prefixes(texts)
    if expected is None:
        assert parsed is None
        return
    assert parsed is not None
    columns, canonical = parsed
    assert columns.tuples() == expected
    for text, prefix, known in zip(texts, expected, canonical.tolist(), strict=True):
        assert not known or text == network_text(*prefix)
