"""IP sets against the stdlib ``ipaddress`` reference: membership, algebra, sizes, snapshots."""

from __future__ import annotations

import ipaddress
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policysim.policies import ipset as ipset_module
from policysim.policies.address_columns import AddressColumns
from policysim.policies.addresses import parse_ip
from policysim.policies.ipset import IPSet
from policysim.policies.ipset_file import SnapshotError
from policysim.policies.prefixes import PrefixColumns, parse_prefix

MAPPED = 0xFFFF << 32
MAX6 = (1 << 128) - 1

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values where bugs live: ends of the space, the mapped block's edges, powers of two.
V4_EDGES = [0, 1, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1]
V6_EDGES = [0, 1, MAPPED - 1, MAPPED, MAPPED + 2**32 - 1, MAPPED + 2**32, 2**64, MAX6 - 1, MAX6]


def _network_text(version: int, value: int, length: int, mapped_text: bool) -> str:
    width = 32 if version == 4 else 128
    value &= ((1 << width) - 1) ^ ((1 << (width - length)) - 1)
    if version == 4 and mapped_text:
        return f"::ffff:{ipaddress.IPv4Address(value)}/{length + 96}"
    return str(ipaddress.ip_network((value, length)))


v4_value = st.one_of(st.sampled_from(V4_EDGES), st.integers(0, 2**32 - 1))
v6_value = st.one_of(
    st.sampled_from(V6_EDGES),
    st.integers(0, MAX6),
    st.integers(MAPPED - 2**20, MAPPED + 2**33),  # around and inside ::ffff:0:0/96
    st.integers(0, 2**40),  # the low corner, where ::/N prefixes cover the mapped block
)


@st.composite
def cidr(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        value = draw(v4_value)
        length = draw(st.one_of(st.sampled_from([0, 1, 8, 24, 31, 32]), st.integers(0, 32)))
        return _network_text(4, value, length, draw(st.booleans()))
    value = draw(v6_value)
    length = draw(
        st.one_of(st.sampled_from([0, 29, 32, 64, 95, 96, 127, 128]), st.integers(0, 128))
    )
    return _network_text(6, value, length, False)


cidr_lists = st.lists(cidr(), max_size=12)


def _address_texts(cidrs: list[str], extra: list[int]) -> list[str]:
    """Every network's first/last address and their neighbours, plus extra IPv4/IPv6 values."""
    texts = ["0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]
    texts += ["::ffff:0.0.0.0", "::ffff:255.255.255.255", "::fffe:ffff:ffff", "::1:0:0:0"]
    for text in cidrs:
        network = ipaddress.ip_network(text)
        family = type(network.network_address)
        first = int(network.network_address)
        last = int(network.broadcast_address)
        for value in (first - 1, first, last, last + 1):
            if 0 <= value < 2**network.max_prefixlen:
                texts.append(str(family(value)))
    for value in extra:
        texts.append(str(ipaddress.IPv6Address(value)))
        if value < 2**32:
            texts.append(str(ipaddress.IPv4Address(value)))
    return texts


def _reference(cidrs: list[str], text: str) -> bool:
    """Membership by ``ipaddress``, with ``::ffff:a.b.c.d`` and ``a.b.c.d`` the same address."""
    address = ipaddress.ip_address(text)
    if address.version == 4:
        v4, v6 = address, ipaddress.IPv6Address(MAPPED | int(address))
    elif address.ipv4_mapped is not None:
        v4, v6 = address.ipv4_mapped, address
    else:
        v4, v6 = None, address
    networks = [ipaddress.ip_network(c) for c in cidrs]
    return any((v4 is not None and v4 in n) or v6 in n for n in networks)


@PROPERTY
@given(cidr_lists, st.lists(st.one_of(v4_value, v6_value), max_size=8))
def test_membership_equals_ipaddress(cidrs: list[str], extra: list[int]) -> None:
    ipset = IPSet.from_cidrs(cidrs)
    one_by_one = IPSet()
    for text in cidrs:
        one_by_one.add(text)
    assert one_by_one == ipset
    texts = _address_texts(cidrs, extra)
    ips = [parse_ip(t) for t in texts]
    expected = [_reference(cidrs, t) for t in texts]
    assert [ip in ipset for ip in ips] == expected
    assert ipset.contains_batch(ips).tolist() == expected
    assert ipset.contains_batch(AddressColumns.from_texts(texts)).tolist() == expected


@given(st.lists(st.one_of(st.sampled_from(["10.0.0.1", "::1", "::ffff:1.2.3.4"]), st.text())))
def test_address_columns_parse_texts_as_parse_ip_does(texts: list[str]) -> None:
    try:
        expected = [parse_ip(text) for text in texts]
    except ValueError:
        with pytest.raises(ValueError):
            AddressColumns.from_texts(texts)
        return
    assert AddressColumns.from_texts(texts).ips == expected


@pytest.mark.parametrize("text", ["1.2.3", "1.2.3.4 junk", "0x7f.0.0.1", "127.1"])
def test_address_columns_refuse_what_parse_ip_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        AddressColumns.from_texts(["10.0.0.1", text])


@PROPERTY
@given(cidr_lists, cidr_lists, st.lists(st.one_of(v4_value, v6_value), max_size=8))
def test_algebra_matches_reference(a: list[str], b: list[str], extra: list[int]) -> None:
    left, right = IPSet.from_cidrs(a), IPSet.from_cidrs(b)
    union, meet, minus = left | right, left & right, left - right
    assert union == IPSet.from_cidrs(a + b)
    assert (minus | meet) == left
    assert meet.issubset(left) and meet.issubset(right) and left.issubset(union)
    assert (minus & right).is_empty()
    for text in _address_texts(a + b, extra):
        ip = parse_ip(text)
        in_a, in_b = _reference(a, text), _reference(b, text)
        expected = (in_a or in_b, in_a and in_b, in_a and not in_b)
        assert (ip in union, ip in meet, ip in minus) == expected


def _reference_v4(cidrs: list[str]) -> list[ipaddress.IPv4Network]:
    """IPv4 networks including the IPv4 part of IPv6 networks that touch the mapped block."""
    networks = []
    for text in cidrs:
        net = ipaddress.ip_network(text)
        if net.version == 4:
            networks.append(net)
        elif net.prefixlen >= 96 and int(net.network_address) >> 32 == 0xFFFF:
            value = int(net.network_address) & 0xFFFFFFFF
            networks.append(ipaddress.IPv4Network((value, net.prefixlen - 96)))
        elif net.supernet_of(ipaddress.IPv6Network("::ffff:0:0/96")):
            networks.append(ipaddress.IPv4Network("0.0.0.0/0"))
    return networks


@PROPERTY
@given(cidr_lists)
def test_sizes_and_cidrs(cidrs: list[str]) -> None:
    ipset = IPSet.from_cidrs(cidrs)
    collapsed = list(ipaddress.collapse_addresses(_reference_v4(cidrs)))
    assert ipset.address_count(4) == sum(n.num_addresses for n in collapsed)
    assert ipset.prefix_count(4) == len(collapsed)
    v4_cidrs = [c for c in ipset.cidrs() if ":" not in c]
    assert v4_cidrs == [str(n) for n in collapsed]
    assert IPSet.from_cidrs(ipset.cidrs()) == ipset
    assert ipset.is_empty() == (not cidrs)


@PROPERTY
@given(cidr_lists)
def test_snapshot_round_trip(cidrs: list[str]) -> None:
    ipset = IPSet.from_cidrs(cidrs)
    data = ipset.to_bytes()
    assert IPSet.from_bytes(data) == ipset
    assert ipset.serialized_size() == len(data)


def test_snapshot_refuses_damage(tmp_path) -> None:
    ipset = IPSet.from_cidrs(["10.0.0.0/8", "2400:adc0::/32"])
    path = tmp_path / "set.snap"
    ipset.save(path)
    assert IPSet.load(path) == ipset
    data = path.read_bytes()
    flipped = bytearray(data)
    flipped[20] ^= 0xFF
    with pytest.raises(SnapshotError, match="checksum"):
        IPSet.from_bytes(bytes(flipped))
    with pytest.raises(SnapshotError):
        IPSet.from_bytes(data[:-5])
    with pytest.raises(SnapshotError, match="magic"):
        IPSet.from_bytes(b"XXXX" + data[4:])


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.1/8",
        "1.2.3.4/33",
        "2001:db8::/129",
        "::ffff:1.2.3.0/129",
        "1.2.3",
        "x",
        "1.2.3.4/",
        "1.2.3.4/²",
        "2001:db8::1/64",
        "",
    ],
)
def test_bad_cidrs_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        IPSet.from_cidrs([text])


def test_mapped_prefixes_are_ipv4() -> None:
    ipset = IPSet.from_cidrs(["::ffff:1.2.3.0/120"])
    assert ipset == IPSet.from_cidrs(["1.2.3.0/24"])
    assert parse_ip("1.2.3.9") in ipset and parse_ip("::ffff:1.2.3.9") in ipset
    assert ipset.address_count(6) == 0
    everything = IPSet.from_cidrs(["::/0"])
    assert everything.address_count(4) == 2**32
    assert everything.address_count(6) == 2**128 - 2**32


def test_changes_invalidate_the_batch_index() -> None:
    ipset = IPSet.from_cidrs(["10.0.0.0/8"])
    ips = [parse_ip("10.1.1.1"), parse_ip("11.1.1.1")]
    assert ipset.contains_batch(ips).tolist() == [True, False]
    ipset.add("11.0.0.0/8")
    assert ipset.contains_batch(ips).tolist() == [True, True]
    assert ipset.contains_batch([]).tolist() == []


def _grown(parts: list[list[str]]) -> IPSet:
    """An empty set updated with each part built prefix by prefix: what a registry does."""
    grown = IPSet()
    for part in parts:
        grown.update(IPSet.from_cidrs(part))
    return grown


@PROPERTY
@given(st.lists(cidr_lists, min_size=1, max_size=4))
def test_a_union_of_columns_is_the_grown_set_to_the_byte(parts: list[list[str]]) -> None:
    columns = [PrefixColumns.of([parse_prefix(text) for text in part]) for part in parts]
    assert IPSet.union_of(columns).to_bytes() == _grown(parts).to_bytes()


@pytest.mark.parametrize(
    "parts",
    [
        [["10.0.0.0/31", "10.0.0.2/32"]],  # 3 addresses in 1 run: array and run tie, array first
        [["10.0.0.0/30", "10.0.0.8/32"]],  # 5 in 2 runs: a tie, the run came first
        [["10.0.0.8/32", "10.0.0.0/30"]],
        [["10.0.0.0/30"], ["10.0.0.8/32"]],
        [["10.0.0.8/32"], ["10.0.0.0/30", "10.1.0.0/16"], ["192.0.2.0/31", "192.0.2.2/32"]],
    ],
)
def test_containers_of_two_equal_forms_keep_the_form_their_history_gave(
    parts: list[list[str]],
) -> None:
    columns = [PrefixColumns.of([parse_prefix(text) for text in part]) for part in parts]
    assert IPSet.union_of(columns).to_bytes() == _grown(parts).to_bytes()


@PROPERTY
@given(cidr_lists, st.lists(v4_value, max_size=8))
def test_batches_agree_with_and_without_the_block_table(cidrs: list[str], extra: list[int]) -> None:
    """Sets of few runs are bisected without a block table; a set of many runs has one."""
    texts = [t for t in _address_texts(cidrs, extra) if ":" not in t]
    values = AddressColumns.from_texts(texts).v4
    expected = [_reference(cidrs, t) for t in texts]
    for few_runs in (-1, 1 << 20):  # always a table; never one
        with mock.patch.object(ipset_module, "_FEW_RUNS", few_runs):
            assert IPSet.from_cidrs(cidrs).contains_v4_array(values).tolist() == expected
