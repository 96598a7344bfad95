"""Exact IPv4 + IPv6 address sets: roaring bitmaps for IPv4, interval arrays for IPv6.

IPv4 lives in a :class:`pyroaring.BitMap` of 32-bit addresses: prefixes go in
with ``add_range``, bulk loads end with ``run_optimize``, and roaring gives
compression, fast set algebra and a portable serialization. IPv6 lives in an
:class:`~policysim.policies.intervals.IntervalSet` of merged 128-bit ranges, whose size
follows the number of prefixes rather than addresses (a bitmap over even the
upper 64 bits spends 2**32 values on one /32). IPv4-mapped IPv6 addresses
(``::ffff:a.b.c.d``) are IPv4 everywhere: the IPv6 side never holds them.

For batches an index is derived from the bitmap: the run boundaries
``[s0, e0, s1, e1, ...]`` as a sorted ``uint32`` array (taken from roaring
itself: starts are ``S - (S+1)``, ends are ``(S+1) - S``; an odd
``searchsorted`` insertion point means inside a run) and a one-byte-per-/20
table (empty, full or mixed), so most addresses are answered by one gather
and only those in mixed blocks are binary-searched. The index is dropped
whenever the set changes and rebuilt on the next batch.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, repeat

import numpy as np
from pyroaring import BitMap

from policysim.policies import ipset_file
from policysim.policies.address_columns import AddressColumns
from policysim.policies.addresses import IP, format_ip
from policysim.policies.intervals import IntervalSet
from policysim.policies.prefixes import (
    MAPPED_END,
    MAPPED_START,
    WIDTH,
    PrefixColumns,
    big_endian,
    packed,
    parse_prefix,
    prefix_range,
    range_to_prefixes,
    split_mapped,
)

SNAPSHOT_KIND = b"ISET"
SNAPSHOT_VERSION = 1
_BLOCK_BITS = 12  # the batch index's block table has one byte per /20 (1 MiB)
_FULL, _MIXED = 1, 2
_FEW_RUNS = 1024  # up to this many runs a batch is bisected over them, with no block table
_V6_RECORD = 32  # bytes per IPv6 range in a snapshot: 16-byte first + 16-byte last, big-endian


class IPSet:
    """A set of IPv4 and IPv6 addresses; see the module docstring for the layout.

    ``contains_v4(value)`` is the bitmap's own C method bound to the instance:
    the fastest per-event probe for an IPv4 integer (no tuple unpacking, no
    Python frame), about twice the speed of ``(4, value) in ipset``.
    """

    __slots__ = ("_blocks4", "_bounds4", "_prefix_counts", "_v4", "_v6", "contains_v4")

    def __init__(self) -> None:
        self._v6 = IntervalSet()
        self._bounds4: np.ndarray | None = None
        self._blocks4: np.ndarray | None = None
        self._prefix_counts: dict[int, int] = {}
        self._set_v4(BitMap())

    def _set_v4(self, v4: BitMap) -> None:
        self._v4 = v4
        self.contains_v4 = v4.__contains__

    @classmethod
    def _of(cls, v4: BitMap, v6: IntervalSet) -> IPSet:
        result = cls()
        result._set_v4(v4)
        result._v6 = v6
        return result

    # --- building ------------------------------------------------------------

    @classmethod
    def from_cidrs(cls, items: Iterable[str]) -> IPSet:
        """Build from address/CIDR texts in one bulk load; ``ValueError`` on a bad item."""
        return cls.from_prefixes(parse_prefix(item) for item in items)

    @classmethod
    def from_prefixes(cls, prefixes: Iterable[tuple[int, int, int]]) -> IPSet:
        """Build from parsed ``(version, network, length)`` triples in one bulk load."""
        v4 = BitMap()
        add_v4 = v4.add_range
        v6_ranges: list[tuple[int, int]] = []
        for version, value, length in prefixes:  # a million prefixes: no call not needed
            if version == 4:
                add_v4(value, value + (1 << (32 - length)))
                continue
            start, end = value, value + (1 << (128 - length))
            if end <= MAPPED_START or start >= MAPPED_END:
                v6_ranges.append((start, end))
                continue
            outside, mapped = split_mapped(start, end)
            v6_ranges.extend(outside)
            if mapped:
                add_v4(*mapped)
        v4.run_optimize()
        return cls._of(v4, IntervalSet.from_ranges(v6_ranges))

    @classmethod
    def union_of(cls, parts: list[PrefixColumns]) -> IPSet:
        """The union of prefix columns' sets, a million prefixes at C speed: the IPv4 ranges
        merged in numpy and handed to roaring whole, not one ``add_range`` each. The bytes
        are those of an empty set updated with :meth:`from_prefixes` of each part in turn
        (how a registry's sets grow): roaring leaves a container whose array and run forms
        are the same size in the form its history gave it, so the few such containers are
        built that way, from their own prefixes."""
        if not parts:
            return cls()
        columns = PrefixColumns(*map(np.concatenate, zip(*parts, strict=True)))
        family, length, high, low = columns
        v4 = family == 4
        starts = low[v4].astype(np.int64)
        ends = starts + (np.int64(1) << (32 - length[v4].astype(np.int64)))
        v6 = np.flatnonzero(~v4)
        v6 = v6[np.lexsort((low[v6], high[v6]))]  # by network: the order merging needs
        v6_starts = columns.take(v6).networks()
        v6_ends = list(map(operator.add, v6_starts, _V6_SIZES[length[v6]].tolist()))
        near = np.flatnonzero((high[v6] == 0) & (low[v6] < MAPPED_END)).tolist()
        mapped = [at for at in near if v6_ends[at] > MAPPED_START]
        if mapped:  # the mapped block is IPv4: cut out of the IPv6 ranges, filed there
            kept = sorted(set(range(len(v6))) - set(mapped))
            ranges = [(v6_starts[at], v6_ends[at]) for at in kept]
            for at in mapped:
                outside, (first, stop) = split_mapped(v6_starts[at], v6_ends[at])
                ranges += outside
                starts, ends = np.append(starts, first), np.append(ends, stop)
            v6_set = IntervalSet.from_ranges(ranges)
        else:
            v6_set = IntervalSet.merged(v6_starts, v6_ends)
        order = np.argsort(starts)
        bitmap, ties = _bitmap(*_merged(starts[order], ends[order]))
        if len(ties):
            bitmap -= BitMap.union(*(BitMap(range(key << 16, key + 1 << 16)) for key in ties))
            bitmap |= _as_grown(parts, ties)
        return cls._of(bitmap, v6_set)

    def add(self, text: str) -> None:
        """Add one address or CIDR (``::ffff:a.b.c.d/L`` folds to IPv4)."""
        self.add_network(*parse_prefix(text))

    def add_network(self, version: int, value: int, prefixlen: int) -> None:
        """Add a parsed prefix; ``ValueError`` when it is not a valid network."""
        if version not in WIDTH or not 0 <= prefixlen <= WIDTH[version]:
            raise ValueError(f"bad prefix: version {version}, length {prefixlen}")
        start, end = prefix_range(version, value, prefixlen)
        if not 0 <= value < (1 << WIDTH[version]) or value & (end - start - 1):
            raise ValueError(f"bad network value {value:#x}/{prefixlen} for IPv{version}")
        if version == 4:
            self._add_v4(start, end)
            return
        outside, mapped = split_mapped(start, end)
        for first, stop in outside:
            self._v6.add_range(first, stop)
        if mapped:
            self._add_v4(*mapped)
        self._changed()

    def _add_v4(self, start: int, end: int) -> None:
        self._v4.add_range(start, end)
        self._changed()

    def _changed(self) -> None:
        self._bounds4 = None
        self._prefix_counts.clear()

    def copy(self) -> IPSet:
        return IPSet._of(BitMap(self._v4), self._v6.copy())

    # --- membership ----------------------------------------------------------

    def __contains__(self, ip: IP) -> bool:
        version, value = ip
        if version == 4:
            return value in self._v4
        return self.contains_v6(value)

    def contains_v6(self, value: int) -> bool:
        """Membership of one IPv6 integer (a mapped value is looked up as IPv4)."""
        if MAPPED_START <= value < MAPPED_END:
            return value - MAPPED_START in self._v4
        return value in self._v6

    def contains_batch(self, ips: Sequence[IP] | AddressColumns) -> np.ndarray:
        """Membership of many addresses as a boolean array (vectorised for IPv4)."""
        columns = AddressColumns.of(ips)
        v4_hits = self.contains_v4_array(columns.v4)
        v6 = self._v6
        return columns.scatter(v4_hits, [value in v6 for value in columns.v6])

    def contains_v4_array(self, values: np.ndarray) -> np.ndarray:
        """Membership of a ``uint32`` array: a block-table gather, searchsorted for the rest."""
        if self._bounds4 is None:
            self._build_index4()
        if self._blocks4 is None:  # few runs: a bisection over them costs less than the table
            return (np.searchsorted(self._bounds4, values, side="right") & 1).astype(bool)
        state = self._blocks4[values >> _BLOCK_BITS]
        found = state == _FULL
        mixed = np.flatnonzero(state == _MIXED)
        if len(mixed):
            edges = np.searchsorted(self._bounds4, values[mixed], side="right")
            found[mixed] = (edges & 1).astype(bool)
        return found

    def _build_index4(self) -> np.ndarray:
        """Run boundaries straight from roaring (starts ``S-(S+1)``, ends ``(S+1)-S``) and,
        for a set of many runs, a table saying, per /20 block, whether it is empty, full or
        mixed; only addresses in mixed blocks need the binary search. A set of a few runs (the
        registry's prefixes changed since its index was built) has no table: making its
        megabyte, with several times that in temporaries, would cost more than it saves."""
        shifted = self._v4.shift(1)
        starts = np.frombuffer((self._v4 - shifted).to_array(), dtype=np.uint32)
        ends = np.frombuffer((shifted - self._v4).to_array(), dtype=np.uint32)
        bounds = np.empty(len(starts) + len(ends), dtype=np.uint32)
        bounds[0::2] = starts
        bounds[1::2] = ends  # one short when the last run reaches 255.255.255.255
        self._bounds4 = bounds
        if len(starts) <= _FEW_RUNS:
            self._blocks4 = None
            return bounds
        first = starts.astype(np.int64)
        stop = np.append(ends, [1 << 32] * (len(starts) - len(ends))).astype(np.int64)
        step = np.zeros((1 << (32 - _BLOCK_BITS)) + 1, dtype=np.int32)
        full_from = (first + (1 << _BLOCK_BITS) - 1) >> _BLOCK_BITS
        full_to = stop >> _BLOCK_BITS
        whole = full_from < full_to
        np.add.at(step, full_from[whole], 1)
        np.add.at(step, full_to[whole], -1)
        blocks = (np.cumsum(step[:-1]) > 0).astype(np.uint8)
        edge_blocks = np.concatenate([first >> _BLOCK_BITS, (stop - 1) >> _BLOCK_BITS])
        blocks[edge_blocks[blocks[edge_blocks] != _FULL]] = _MIXED
        self._blocks4 = blocks
        return bounds

    # --- algebra -------------------------------------------------------------

    def union(self, other: IPSet) -> IPSet:
        return IPSet._of(_optimized(self._v4 | other._v4), self._v6.union(other._v6))

    def intersection(self, other: IPSet) -> IPSet:
        return IPSet._of(_optimized(self._v4 & other._v4), self._v6.intersection(other._v6))

    def difference(self, other: IPSet) -> IPSet:
        return IPSet._of(_optimized(self._v4 - other._v4), self._v6.difference(other._v6))

    def update(self, other: IPSet) -> None:
        """In-place union: the object (and its bound ``contains_v4``) stays the same."""
        self._v4 |= other._v4
        self._v4.run_optimize()
        self._v6 = self._v6.union(other._v6)
        self._changed()

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IPSet):
            return NotImplemented
        return self._v4 == other._v4 and self._v6 == other._v6

    __hash__ = None  # type: ignore[assignment]

    def is_empty(self) -> bool:
        return not self._v4 and not self._v6.starts

    def issubset(self, other: IPSet) -> bool:
        return self._v4.issubset(other._v4) and self._v6.issubset(other._v6)

    # --- sizes and contents ----------------------------------------------------

    def address_count(self, version: int) -> int:
        """Addresses of one family (IPv6 excludes the mapped block, which counts as IPv4)."""
        return len(self._v4) if version == 4 else self._v6.size()

    def prefix_count(self, version: int) -> int:
        """Prefixes in the smallest CIDR list equal to this set (not how it was built)."""
        if version not in self._prefix_counts:
            self._prefix_counts[version] = sum(1 for _ in self.prefixes(version))
        return self._prefix_counts[version]

    def ranges(self, version: int) -> Iterator[tuple[int, int]]:
        """Merged half-open ranges ``[start, end)`` of one family, ascending."""
        if version == 6:
            return self._v6.ranges()
        bounds = self._bounds4 if self._bounds4 is not None else self._build_index4()
        edges = [*bounds.tolist(), 1 << 32][: len(bounds) + len(bounds) % 2]
        return zip(edges[0::2], edges[1::2], strict=True)

    def prefixes(self, version: int) -> Iterator[tuple[int, int, int]]:
        """The smallest list of ``(version, network, length)`` covering the family's members."""
        for start, end in self.ranges(version):
            yield from range_to_prefixes(version, start, end)

    def cidrs(self) -> Iterator[str]:
        """The set as CIDR texts, IPv4 first (what writing a set file out needs)."""
        for version in (4, 6):
            for _, value, length in self.prefixes(version):
                yield f"{format_ip((version, value))}/{length}"

    def __repr__(self) -> str:
        return f"IPSet(ipv4: {self.address_count(4)} addresses, ipv6: {len(self._v6)} ranges)"

    # --- snapshots -------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Roaring's portable format (IPv4) + packed ranges (IPv6) in a checksummed container."""
        self._v4.run_optimize()
        lasts = map(operator.sub, self._v6.ends, repeat(1))
        v6 = packed(chain.from_iterable(zip(self._v6.starts, lasts, strict=True)), 16)
        return ipset_file.pack(SNAPSHOT_KIND, SNAPSHOT_VERSION, [self._v4.serialize(), v6])

    @classmethod
    def from_bytes(cls, data: bytes) -> IPSet:
        """Load a snapshot made by :meth:`to_bytes`; :class:`SnapshotError` when it is damaged."""
        _, sections = ipset_file.unpack(data, SNAPSHOT_KIND, (SNAPSHOT_VERSION,))
        if len(sections) != 2 or len(sections[1]) % _V6_RECORD:
            raise ipset_file.SnapshotError("IP set snapshot has the wrong section layout")
        try:
            v4 = BitMap.deserialize(bytes(sections[0]))
        except (ValueError, MemoryError) as exc:
            raise ipset_file.SnapshotError(f"bad IPv4 bitmap in snapshot: {exc}") from exc
        bounds = big_endian(bytes(sections[1]), 16)  # first, last: 16 bytes each
        ends = list(map(operator.add, bounds[1::2], repeat(1)))
        return cls._of(v4, IntervalSet(bounds[0::2], ends))

    def serialized_size(self) -> int:
        return len(self.to_bytes())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a snapshot atomically (write a temporary file, then rename)."""
        temporary = f"{os.fspath(path)}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(self.to_bytes())
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> IPSet:
        with open(path, "rb") as handle:
            return cls.from_bytes(handle.read())


_V6_SIZES = np.array([1 << (128 - length) for length in range(129)], object)
_COOKIE = 12347  # roaring's portable format with run containers
_NO_OFFSETS = 4  # fewer containers than this: no offset table
_ARRAY_MAX = 4096  # the most values an array container holds


def _merged(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranges sorted by start merged where they overlap or touch."""
    if not len(starts):
        return starts, ends
    reach = np.maximum.accumulate(ends)
    new = np.ones(len(starts), bool)
    new[1:] = starts[1:] > reach[:-1]
    heads = np.flatnonzero(new)
    return starts[heads], reach[np.append(heads[1:], len(starts)) - 1]


def _bitmap(starts: np.ndarray, ends: np.ndarray) -> tuple[BitMap, list[int]]:
    """Merged IPv4 ranges (sorted, apart) as a bitmap, written in roaring's portable format as
    run containers, read back and run-optimized; and the keys (upper 16 bits) of the
    containers whose array and run forms are the same size, which that leaves as runs."""
    if not len(starts):
        return BitMap(), []
    first, last = starts >> 16, (ends - 1) >> 16
    pieces = last - first + 1
    total = int(pieces.sum())
    owner = np.repeat(np.arange(len(starts)), pieces)
    key = first[owner] + np.arange(total) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    base = key << 16
    low = np.maximum(starts[owner], base) - base
    high = np.minimum(ends[owner], base + (1 << 16)) - base  # past the run's last value
    new = np.ones(total, bool)
    new[1:] = key[1:] != key[:-1]
    heads = np.flatnonzero(new)
    runs = np.diff(np.append(heads, total))
    count = len(heads)
    flags = np.packbits(np.ones(count, bool), bitorder="little").tobytes()
    described = np.empty((count, 2), "<u2")
    described[:, 0] = key[heads]
    described[:, 1] = np.add.reduceat(high - low, heads) - 1
    sizes = 2 + 4 * runs
    cards = described[:, 1].astype(np.int64) + 1
    ties = described[(cards <= _ARRAY_MAX) & (2 * cards == sizes), 0].tolist()
    offsets = b""
    if count >= _NO_OFFSETS:
        first_offset = 4 + len(flags) + 8 * count
        offsets = (first_offset + np.cumsum(sizes) - sizes).astype("<u4").tobytes()
    body = np.empty(2 * total + count, "<u2")  # per container: run count, (start, length - 1)s
    container = np.cumsum(new) - 1
    body[2 * heads + np.arange(count)] = runs
    at = 2 * np.arange(total) + container + 1
    body[at] = low
    body[at + 1] = high - low - 1
    cookie = np.array([_COOKIE | (count - 1) << 16], "<u4").tobytes()
    bitmap = BitMap.deserialize(cookie + flags + described.tobytes() + offsets + body.tobytes())
    bitmap.run_optimize()
    return bitmap, ties


def _as_grown(parts: list[PrefixColumns], keys: list[int]) -> BitMap:
    """The containers at ``keys`` as :meth:`IPSet.union_of` says: each part's prefixes there
    added one by one and the sets updated in turn. Such a container holds at most 4096
    addresses, so only IPv4 prefixes longer than /16 are in it."""
    grown = IPSet()
    for part in parts:
        inside = (part.family == 4) & (part.length > 16) & np.isin(part.low >> 16, keys)
        grown.update(IPSet.from_prefixes(part.take(np.flatnonzero(inside)).tuples()))
    return grown._v4


def _optimized(bitmap: BitMap) -> BitMap:
    bitmap.run_optimize()
    return bitmap
