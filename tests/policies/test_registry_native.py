"""The registry's lookup in C against the pure-Python finder and a plain reference, and the
registry on a machine where the C extension could not be built.

Registries are drawn over the whole address space (random IPv4 and IPv6 prefixes, some of them
nested, some covering IPv4 through the mapped block) with times that coincide, so grants start,
expire and are revoked exactly at a query's time; queries sit on and next to prefix edges.
"""

from __future__ import annotations

import ipaddress
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_registry_reference import Reference

from policysim.policies import registry_index
from policysim.policies.address_columns import AddressColumns
from policysim.policies.addresses import parse_ip
from policysim.policies.registry import RecordError, Registry, RegistryRecord, RegistryView

NATIVE = registry_index.NATIVE
needs_native = pytest.mark.skipif(NATIVE is None, reason="the C extension was not built")

# Whole seconds, repeated so that times coincide, give an index of 32-bit windows; one with a
# fraction or past 32 bits anywhere gives one of floats: examples draw both.
TIMES = [None, 100.0, 200.0, 300.0] * 3 + [250.5, 4294967294.0, 4294967296.0]
CATEGORIES = ["bank", "freelancer", "it_company"]
SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]  # monkeypatch: undone each time
VIEWS = [None, frozenset({"bank"}), frozenset({"freelancer", "it_company"})]


@st.composite
def prefixes(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from([4, 4, 6, "mapped"]))
    if kind == 4:
        length = draw(st.integers(0, 32))
        value = draw(st.integers(0, (1 << 32) - 1)) >> (32 - length) << (32 - length)
        return str(ipaddress.IPv4Network((value, length)))
    if kind == 6:
        length = draw(st.integers(0, 128))
        value = draw(st.integers(0, (1 << 128) - 1)) >> (128 - length) << (128 - length)
        return str(ipaddress.IPv6Network((value, length)))
    length = draw(st.integers(96, 128))
    value = (0xFFFF << 32 | draw(st.integers(0, (1 << 32) - 1))) >> (128 - length)
    return str(ipaddress.IPv6Network((value << (128 - length), length)))


entities = st.sampled_from(["a", "b", "c", "d"])
grants = st.builds(
    RegistryRecord,
    entities,
    st.none(),
    st.sampled_from(CATEGORIES),
    st.lists(prefixes(), min_size=1, max_size=3),
    st.sampled_from(TIMES),
    st.sampled_from(TIMES),
    st.sampled_from(TIMES),
)
revocations = st.builds(
    lambda entity, at: RegistryRecord(entity, revoked_at=at), entities, st.sampled_from(TIMES[1:])
)
records = st.lists(st.one_of(grants, grants, grants, revocations), max_size=20)
QUERY_TIMES = [0.0, 99.0, 100.0, 150.0, 200.0, 300.0, 1e9, 250.5, -5.0, -math.inf, math.inf]
QUERY_TIMES += [4294967294.0, 4294967294.5, 4294967295.0, 4294967296.0, 5e9]  # 32-bit edges
query_times = st.lists(st.sampled_from(QUERY_TIMES), min_size=1)


def _edges(items: list[RegistryRecord]) -> list[str]:
    """Addresses on and next to every prefix's first and last address."""
    found = {"0.0.0.0", "255.255.255.255", "::", "::ffff:0.0.0.0"}
    for item in items:
        for text in item.prefixes:
            network = ipaddress.ip_network(text)
            top = (1 << network.max_prefixlen) - 1
            for value in (int(network.network_address), int(network.broadcast_address)):
                for near in (value - 1, value, value + 1):
                    if 0 <= near <= top:
                        found.add(str(ipaddress.ip_address(near) if network.version == 6 else
                                      ipaddress.IPv4Address(near)))  # fmt: skip
    return sorted(found)


def _build(items: list[RegistryRecord]) -> tuple[Registry, Reference]:
    registry, reference = Registry(), Reference()
    for item in items:
        try:
            registry.apply(item)
        except RecordError:
            continue
        reference.apply(item)
    return registry, reference


def _python_view(
    registry: Registry, categories: frozenset[str] | None, monkeypatch
) -> RegistryView:
    with monkeypatch.context() as patch:
        patch.setattr(registry_index, "NATIVE", None)
        return registry.view(categories)


def _agree(registry: Registry, reference: Reference, texts: list[str], times, monkeypatch) -> None:
    ips = [parse_ip(text) for text in texts]
    for categories in VIEWS:
        native, python = registry.view(categories), _python_view(registry, categories, monkeypatch)
        for text, ip in zip(texts, ips, strict=True):
            for ts in times:
                expected = reference.member(text, ts, categories)
                assert native.contains(ip, ts) is expected, (text, ts, categories)
                assert python.contains(ip, ts) is expected, (text, ts, categories)
    for text, ip in zip(texts, ips, strict=True):
        for ts in times:
            assert registry.category_at(ip, ts) == reference.category(text, ts), (text, ts)


@needs_native
@settings(max_examples=200, deadline=None, suppress_health_check=SLOW)
@given(items=records, times=query_times)
def test_c_lookup_equals_the_python_finder_and_the_reference(
    items: list[RegistryRecord], times: list[float], monkeypatch
) -> None:
    registry, reference = _build(items)
    _agree(registry, reference, _edges(items), times, monkeypatch)


@needs_native
@settings(max_examples=100, deadline=None, suppress_health_check=SLOW)
@given(first=records, then=records, times=query_times)
def test_c_lookup_routes_changed_prefixes_to_the_exact_path(
    first: list[RegistryRecord], then: list[RegistryRecord], times: list[float], monkeypatch
) -> None:
    """The index is built, then registrations and revocations arrive: a view made before them
    answers them at once (the C finder is set up again from the registry's clock)."""
    registry, reference = _build(first)
    view = registry.view(None)
    probe = parse_ip("10.0.0.1")
    view.contains(probe, 150.0)  # the index is compiled now
    for item in then:
        try:
            registry.apply(item)
        except RecordError:
            continue
        reference.apply(item)
    texts = _edges(first + then)
    for text in texts:
        for ts in times:
            assert view.contains(parse_ip(text), ts) is reference.member(text, ts, None)
    _agree(registry, reference, texts, times, monkeypatch)


@needs_native
@settings(max_examples=100, deadline=None, suppress_health_check=SLOW)
@given(
    items=records,
    values=st.lists(st.integers(0, (1 << 32) - 1), min_size=1, max_size=50),
    times=query_times,
)
def test_c_batch_equals_the_numpy_batch(
    items: list[RegistryRecord], values: list[int], times: list[float], monkeypatch
) -> None:
    registry, _ = _build(items)
    index = registry.compile_index(4)
    texts = _edges(items)
    values += [int(ipaddress.ip_address(t)) for t in texts if ":" not in t]
    array = np.array(values, np.uint32)
    ts = np.resize(np.array(times, np.float64), len(array))
    in_c = index.probe(array, ts)
    with monkeypatch.context() as patch:
        patch.setattr(registry_index, "NATIVE", None)
        in_numpy = index.probe(array, ts)
    assert in_c[0].tolist() == in_numpy[0].tolist()
    assert in_c[1].tolist() == in_numpy[1].tolist()


@needs_native
def test_a_view_answers_through_the_c_method() -> None:
    registry = Registry()
    registry.apply(RegistryRecord("a", None, "bank", ["10.0.0.0/8", "2001:db8::/32"], 100.0))
    view = registry.view(["bank"])
    assert type(view.contains).__name__ == "builtin_function_or_method"
    assert view.contains(parse_ip("10.1.2.3"), 150.0)
    assert not view.contains(parse_ip("10.1.2.3"), 50.0)
    assert view.contains(parse_ip("2001:db8::5"), 150.0)
    assert not registry.view(["freelancer"]).contains(parse_ip("10.1.2.3"), 150.0)
    with pytest.raises(TypeError):
        view.contains("10.1.2.3", 150.0)


def test_without_the_extension_the_python_finder_answers(monkeypatch) -> None:
    monkeypatch.setattr(registry_index, "NATIVE", None)
    registry = Registry()
    registry.apply(RegistryRecord("a", None, "bank", ["10.0.0.0/8"], 100.0, 300.0))
    registry.apply(RegistryRecord("b", None, "freelancer", ["10.1.0.0/16", "2001:db8::/32"], 200.0))
    view = registry.view(None)
    assert view.contains.__func__ is RegistryView._contains
    ips = [parse_ip(t) for t in ("10.1.0.1", "10.2.0.1", "2001:db8::1", "8.8.8.8")]
    assert [view.contains(ip, 250.0) for ip in ips] == [True, True, True, False]
    assert [registry.category_at(ip, 350.0) for ip in ips] == [
        "freelancer",
        None,
        "freelancer",
        None,
    ]
    columns = AddressColumns(ips)
    assert registry.categories_batch(columns, [150.0] * 4) == ["bank", "bank", None, None]


def test_a_machine_without_the_extension_imports_and_answers() -> None:
    """The module missing altogether (no compiler at install): imports work, the registry
    answers from Python."""
    script = """
import sys
sys.modules["policysim.policies._finder"] = None  # import fails as if it was never built
from policysim.policies import registry_index
from policysim.policies.addresses import parse_ip
from policysim.policies.registry import Registry, RegistryRecord
assert registry_index.NATIVE is None
registry = Registry()
registry.apply(RegistryRecord("a", None, "bank", ["10.0.0.0/8"], 100.0))
view = registry.view(None)
print(view.contains(parse_ip("10.0.0.1"), 150.0), view.contains(parse_ip("10.0.0.1"), 50.0))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "False"]


def test_a_build_for_another_column_layout_is_not_used() -> None:
    """An extension left in place from an older checkout (``pip install -e`` not run again)
    reads columns laid out otherwise: the registry answers from Python instead."""
    script = """
import sys, types
stale = types.ModuleType("policysim.policies._finder")
stale.LAYOUT = 0
sys.modules["policysim.policies._finder"] = stale
from policysim.policies import registry_index
print(registry_index.NATIVE)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["None"]


@pytest.mark.parametrize("other_start, dtype", [(5.0, "<u4"), (5.5, "<f8")])
def test_endless_and_exact_times(other_start: float, dtype: str, monkeypatch) -> None:
    """Endless windows, a query at exactly a grant's start or end, times before the epoch and
    past 32 bits, and an int time agree on both paths, with windows in 32-bit seconds and in
    floats (a window holds on [start, until): never at inf)."""
    registry = Registry()
    registry.apply(RegistryRecord("a", None, "bank", ["10.0.0.0/8"]))
    registry.apply(RegistryRecord("b", None, "bank", ["11.0.0.0/8"], 100.0, 200.0))
    registry.apply(RegistryRecord("c", None, "bank", ["12.0.0.0/8"], other_start, 4294967294.0))
    assert registry.compile_index(4).columns()["windows"].dtype == np.dtype(dtype)
    expected = [
        ("10.0.0.1", -math.inf, True), ("10.0.0.1", math.inf, False), ("10.0.0.1", 0.0, True),
        ("10.0.0.1", -1.0, True), ("10.0.0.1", 5e9, True),
        ("11.0.0.1", 99.999, False), ("11.0.0.1", 100.0, True), ("11.0.0.1", 199.999, True),
        ("11.0.0.1", 200.0, False), ("11.0.0.1", 150, True), ("11.0.0.1", -1.0, False),
        ("11.0.0.1", 5e9, False), ("12.0.0.1", 4294967293.5, True),
        ("12.0.0.1", 4294967294.0, False), ("12.0.0.1", math.inf, False),
    ]  # fmt: skip
    for view in (registry.view(None), _python_view(registry, None, monkeypatch)):
        assert [view.contains(parse_ip(text), ts) for text, ts, _ in expected] == [
            answer for _, _, answer in expected
        ]


@needs_native
def test_crowded_blocks_are_searched_like_sparse_ones(monkeypatch) -> None:
    """Thousands of prefixes inside one /8 put far more pieces in a block of the top-bits table
    than the C finder reads in a row, so it bisects there: both ways agree with Python."""
    rng = np.random.default_rng(7)
    registry = Registry()
    texts = []
    for i, value in enumerate(rng.integers(0, 1 << 24, 3000).tolist()):
        length = int(rng.integers(12, 33))
        network = ipaddress.IPv4Network(
            ((10 << 24 | value) >> (32 - length) << (32 - length), length)
        )
        texts.append(str(network))
        registry.apply(
            RegistryRecord(f"e{i}", None, CATEGORIES[i % 3], [str(network)], i % 7 * 50.0)
        )
    sparse = [str(ipaddress.IPv4Network((int(v) << 8, 24))) for v in rng.integers(0, 1 << 24, 300)]
    registry.apply(RegistryRecord("s", None, "bank", sparse, 10.0))
    probes = [
        parse_ip(str(ipaddress.IPv4Address(v))) for v in rng.integers(0, 1 << 32, 3000).tolist()
    ]
    probes += [parse_ip(str(ipaddress.ip_network(t).network_address + 1)) for t in texts + sparse]
    for categories in VIEWS:
        native, python = registry.view(categories), _python_view(registry, categories, monkeypatch)
        for ts in (0.0, 120.0, 400.0):
            assert [native.contains(ip, ts) for ip in probes] == [
                python.contains(ip, ts) for ip in probes
            ]
