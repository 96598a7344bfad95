"""Every registry answer against a plain reference: ``ipaddress`` networks and grant intervals.

Registries are drawn from a small address space with nested and overlapping
prefixes of several entities, times that coincide (so grants start, expire
and are revoked exactly at a query's time), entity-wide revocations and
IPv6 prefixes that cover IPv4 through the mapped block. The registry must
agree on membership in every view and on the category of every query,
address by address and in batches, before and after incremental updates.
"""

from __future__ import annotations

import ipaddress
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policysim.policies.address_columns import AddressColumns
from policysim.policies.addresses import parse_ip
from policysim.policies.registry import RecordError, Registry, RegistryRecord

PREFIXES = ["10.0.0.0/8", "10.1.0.0/16", "10.1.0.0/24", "10.1.0.0/30", "10.1.0.1", "10.1.0.2",
            "10.1.1.0/24", "0.0.0.0/0", "::/0", "::ffff:0:0/96", "::ffff:10.1.0.0/120",
            "2001:db8::/32", "2001:db8::/64", "2001:db8::1", "2001:db8:1::/48"]  # fmt: skip
QUERIES = ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.1.9", "10.2.0.0", "11.0.0.1",
           "::ffff:10.1.0.1", "::ffff:11.0.0.1", "2001:db8::1", "2001:db8::2",
           "2001:db8:1::1", "2001:db9::1"]  # fmt: skip
TIMES = [None, 100.0, 200.0, 300.0]
QUERY_TIMES = [0.0, 99.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0]
CATEGORIES = ["bank", "freelancer", "it_company"]
VIEWS = [None, frozenset({"bank"}), frozenset({"freelancer", "it_company"}), frozenset()]

grant_records = st.builds(
    lambda entity, prefixes, category, start, end, revoked: RegistryRecord(
        entity, None, category, prefixes, start, end, revoked
    ),
    st.sampled_from(["a", "b", "c"]),
    st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=3),
    st.sampled_from(CATEGORIES),
    st.sampled_from(TIMES),
    st.sampled_from(TIMES),
    st.sampled_from(TIMES),
)
revocations = st.builds(
    lambda entity, at: RegistryRecord(entity, revoked_at=at),
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(TIMES[1:]),
)
records = st.lists(st.one_of(grant_records, grant_records, revocations), max_size=14)


def _time(value: float | None, missing: float) -> float:
    return missing if value is None else value


class Reference:
    """The registry's rules written out plainly: a grant holds on [start, min(expires, its own
    revocation, the entity's first revocation at or after start)); the most specific prefix
    answers, then the earliest start, the entity id, the category, expiry, revocation."""

    def __init__(self) -> None:
        self.grants: dict[tuple, tuple] = {}  # identity -> (network, entity, category, times)
        self.revocations: dict[str, set[float]] = {}

    def apply(self, record: RegistryRecord) -> None:
        start = _time(record.registered_at, -math.inf)
        expires = _time(record.expires_at, math.inf)
        revoked = _time(record.revoked_at, math.inf)
        if not record.prefixes:
            self.revocations.setdefault(record.entity_id, set()).add(revoked)
        for text in record.prefixes:
            network = ipaddress.ip_network(text)
            key = (record.entity_id, record.category, str(network), start, expires, revoked)
            self.grants.setdefault(key, (network, record.entity_id, record.category))

    def _until(self, entity: str, start: float, expires: float, revoked: float) -> float:
        later = [t for t in self.revocations.get(entity, ()) if t >= start]
        return min([expires, revoked, *later])

    def active(self, text: str, ts: float) -> list[tuple[tuple, str]]:
        """(precedence key, category) of every grant holding the address at ``ts``."""
        address = ipaddress.ip_address(text)
        mapped = address.ipv4_mapped if address.version == 6 else None
        v4 = mapped or (address if address.version == 4 else None)
        found = []
        for (entity, category, _, start, expires, revoked), (network, *_) in self.grants.items():
            if not start <= ts < self._until(entity, start, expires, revoked):
                continue
            length = self._covering_length(network, address, v4)
            if length is not None:
                found.append(((-length, start, entity, category, expires, revoked), category))
        return sorted(found)

    @staticmethod
    def _covering_length(network, address, v4) -> int | None:
        if v4 is not None:
            if network.version == 4:
                return network.prefixlen if v4 in network else None
            as_v6 = ipaddress.IPv6Address((0xFFFF << 32) | int(v4))
            if as_v6 not in network:
                return None
            return network.prefixlen - 96 if network.prefixlen >= 96 else 0
        return network.prefixlen if network.version == 6 and address in network else None

    def category(self, text: str, ts: float) -> str | None:
        found = self.active(text, ts)
        return found[0][1] if found else None

    def member(self, text: str, ts: float, view: frozenset[str] | None) -> bool:
        return any(view is None or category in view for _, category in self.active(text, ts))


def _apply_both(registry: Registry, reference: Reference, record: RegistryRecord) -> None:
    try:
        registry.apply(record)
    except RecordError:
        return
    reference.apply(record)


def _check(registry: Registry, reference: Reference) -> None:
    pairs = [(q, t) for q in QUERIES for t in QUERY_TIMES]
    texts = [q for q, _ in pairs]
    ts = [t for _, t in pairs]
    ips = [parse_ip(q) for q in texts]
    columns = AddressColumns.from_texts(texts)
    expected_categories = [reference.category(q, t) for q, t in pairs]
    assert registry.categories_batch(columns, ts) == expected_categories
    assert [registry.category_at(ip, t) for ip, t in zip(ips, ts, strict=True)] == (
        expected_categories
    )
    for categories in VIEWS:
        view = registry.view(categories)
        expected = [reference.member(q, t, categories) for q, t in pairs]
        assert view.contains_batch(columns, ts).tolist() == expected, categories
        assert [view.contains(ip, t) for ip, t in zip(ips, ts, strict=True)] == expected
        only_v4 = [i for i, ip in enumerate(ips) if ip[0] == 4]
        got = view.contains_batch([ips[i] for i in only_v4], [ts[i] for i in only_v4])
        assert got.tolist() == [expected[i] for i in only_v4]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_every_answer_matches_the_reference(items: list[RegistryRecord]) -> None:
    registry, reference = Registry(), Reference()
    for item in items:
        _apply_both(registry, reference, item)
    _check(registry, reference)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records, records)
def test_answers_stay_exact_across_updates_after_a_batch(
    first: list[RegistryRecord], then: list[RegistryRecord]
) -> None:
    """A batch builds the index; later registrations and revocations must be seen at once."""
    registry, reference = Registry(), Reference()
    for item in first:
        _apply_both(registry, reference, item)
    _check(registry, reference)
    for item in then:
        _apply_both(registry, reference, item)
        registry.view(None).contains_batch([parse_ip("10.1.0.1")], [150.0])
    _check(registry, reference)


def test_one_probe_answers_category_and_membership() -> None:
    registry = Registry()
    registry.apply(RegistryRecord("a", None, "bank", ["10.0.0.0/8"], 100.0, 300.0))
    registry.apply(RegistryRecord("b", None, "freelancer", ["10.1.0.0/16"], 200.0))
    columns = AddressColumns.from_texts(["10.1.0.1", "10.1.0.1", "10.2.0.1", "8.8.8.8"])
    ts = [150.0, 250.0, 300.0, 250.0]
    codes, bits = registry.probe_batch(columns, ts)
    assert registry.probe_batch(columns, ts)[0] is codes  # the same probe, not a second one
    assert registry.categories_batch(columns, ts) == ["bank", "freelancer", None, None]
    assert registry.view(["bank"]).contains_batch(columns, ts).tolist() == [
        True,
        True,
        False,
        False,
    ]
    assert bits.dtype == np.uint64


def test_more_categories_than_the_probe_mask_holds_still_answers() -> None:
    registry = Registry()
    for i in range(70):
        registry.apply(RegistryRecord(f"e{i}", None, f"c{i}", [f"10.0.{i}.0/24"]))
    ips = [parse_ip("10.0.65.1"), parse_ip("10.0.3.1"), parse_ip("11.0.0.1")]
    assert registry.categories_batch(ips, [0.0] * 3) == ["c65", "c3", None]
    assert registry.view(["c65"]).contains_batch(ips, [0.0] * 3).tolist() == [True, False, False]


def test_batches_answer_exactly_when_the_index_would_be_too_large(monkeypatch) -> None:
    """Many grants sharing short prefixes make the index decline; batches stay exact."""
    from policysim.policies import registry_index

    monkeypatch.setattr(registry_index, "MAX_PAIRS_PER_GRANT", 0)
    registry, reference = Registry(), Reference()
    items = [
        RegistryRecord("a", None, "bank", ["10.0.0.0/8", "::/0"], 100.0, 300.0),
        RegistryRecord("b", None, "freelancer", ["10.1.0.0/16", "2001:db8::/32"], None, 200.0),
        RegistryRecord("c", None, "it_company", ["10.1.0.1"], 200.0),
        RegistryRecord("a", revoked_at=250.0),
    ]
    for item in items:
        _apply_both(registry, reference, item)
    _check(registry, reference)
    assert registry.compile_index() is None
