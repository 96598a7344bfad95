"""CIDR prefix text to integer ranges and back, with IPv4-mapped IPv6 folded to IPv4.

Sets, the registry and the policy language all accept the same prefix
syntax, so parsing lives here once. A prefix is ``(version, network, length)``
with the host bits zero; like :mod:`ipaddress` (strict mode) a prefix with host
bits set is refused, because in a registry it is almost always a typo.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import repeat
from typing import NamedTuple

import numpy as np

from policysim.policies.addresses import format_ip, parse_ip

Prefix = tuple[int, int, int]

WIDTH = {4: 32, 6: 128}
MAPPED_START = 0xFFFF << 32
"""First address of ``::ffff:0:0/96``, the IPv4-mapped block."""
MAPPED_END = MAPPED_START + (1 << 32)


def parse_prefix(text: str) -> Prefix:
    """Parse an address or ``address/length``; raises ``ValueError`` naming the problem.

    ``::ffff:a.b.c.d/L`` with ``L >= 96`` is the IPv4 prefix of length
    ``L - 96``; a shorter mapped prefix stays IPv6 (it covers more than the
    mapped block, see :func:`split_mapped`).
    """
    text = text.strip()
    address, slash, length_text = text.partition("/")
    version, value = parse_ip(address)
    mapped_text = version == 4 and ":" in address
    if not slash:
        return version, value, WIDTH[version]
    if not (length_text.isascii() and length_text.isdigit()):
        raise ValueError(f"bad prefix length in {text!r}")
    length = int(length_text)
    if mapped_text:
        if length > 128:
            raise ValueError(f"prefix length {length} > 128 in {text!r}")
        if length >= 96:
            length -= 96
        else:
            version, value = 6, MAPPED_START | value
    if length > WIDTH[version]:
        raise ValueError(f"prefix length {length} > {WIDTH[version]} in {text!r}")
    if value & host_mask(version, length):
        network = network_text(version, value, length)
        raise ValueError(f"host bits set in {text!r} (the network is {network})")
    return version, value, length


def host_mask(version: int, length: int) -> int:
    """The bits of an address below a prefix of ``length``."""
    return (1 << (WIDTH[version] - length)) - 1


def network_mask(version: int, length: int) -> int:
    """The bits of an address that a prefix of ``length`` fixes."""
    return ((1 << WIDTH[version]) - 1) ^ host_mask(version, length)


def prefix_range(version: int, value: int, length: int) -> tuple[int, int]:
    """The half-open range ``[first, last + 1)`` a prefix covers."""
    return value, value + (1 << (WIDTH[version] - length))


def network_text(version: int, value: int, length: int) -> str:
    """Canonical ``address/length`` text of the network containing ``value``."""
    return f"{format_ip((version, value & network_mask(version, length)))}/{length}"


def split_mapped(start: int, end: int) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """Split an IPv6 range into its non-mapped parts and its IPv4-mapped part (as IPv4).

    Addresses in ``::ffff:0:0/96`` are IPv4 everywhere in policysim, so an
    IPv6 range that overlaps the block contributes those addresses to the
    IPv4 side instead.
    """
    if end <= MAPPED_START or start >= MAPPED_END:
        return [(start, end)], None
    outside = [r for r in ((start, MAPPED_START), (MAPPED_END, end)) if r[0] < r[1]]
    inside = (max(start, MAPPED_START) - MAPPED_START, min(end, MAPPED_END) - MAPPED_START)
    return outside, inside


def range_to_prefixes(version: int, start: int, end: int) -> Iterator[Prefix]:
    """The fewest prefixes that exactly cover ``[start, end)``."""
    width = WIDTH[version]
    while start < end:
        size = start & -start if start else 1 << width
        while size > end - start:
            size >>= 1
        yield version, start, width - size.bit_length() + 1
        start += size


class PrefixColumns(NamedTuple):
    """Many prefixes as parallel arrays: a million registry rows read in bulk stay arrays
    from parsing to the snapshot instead of a million ``Prefix`` tuples. A network is
    ``high << 64 | low`` (IPv4: ``high`` is 0)."""

    family: np.ndarray  # uint8, 4 or 6
    length: np.ndarray  # uint8
    high: np.ndarray  # uint64
    low: np.ndarray  # uint64

    @classmethod
    def of(cls, prefixes: list[Prefix]) -> PrefixColumns:
        """Columns of parsed prefixes."""
        count = len(prefixes)
        values = [value for _, value, _ in prefixes]
        return cls(
            np.fromiter((prefix[0] for prefix in prefixes), np.uint8, count),
            np.fromiter((prefix[2] for prefix in prefixes), np.uint8, count),
            np.fromiter((value >> 64 for value in values), np.uint64, count),
            np.fromiter((value & _LOW64 for value in values), np.uint64, count),
        )

    def take(self, rows: np.ndarray) -> PrefixColumns:
        """The prefixes at ``rows``, in that order."""
        return PrefixColumns(*(column[rows] for column in self))

    def networks(self) -> list[int]:
        """Each network as a Python integer."""
        if not self.high.any():
            return self.low.tolist()
        return big_endian(np.stack([self.high, self.low], axis=1).astype(">u8").tobytes(), 16)

    def tuples(self) -> list[Prefix]:
        """Each prefix as a ``Prefix`` tuple."""
        return list(zip(self.family.tolist(), self.networks(), self.length.tolist(), strict=True))

    def mapped_rows(self) -> list[int]:
        """The rows of IPv6 prefixes covering the IPv4-mapped block."""
        near = np.flatnonzero((self.family == 6) & (self.high == 0))
        return [
            row
            for row, prefix in zip(near.tolist(), self.take(near).tuples(), strict=True)
            if covers_mapped(prefix)
        ]


def covers_mapped(prefix: Prefix) -> bool:
    """Whether an IPv6 prefix covers the IPv4-mapped block (its grants then also answer for
    every IPv4 address under 0.0.0.0/0)."""
    version, value, length = prefix  # aligned: covering any of the /96 is covering all of it
    return version == 6 and value <= MAPPED_START < value + (1 << (128 - length))


_LOW64 = (1 << 64) - 1


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` cut into pieces of ``size`` bytes, at C speed."""
    return map(
        data.__getitem__, map(slice, range(0, len(data), size), range(size, len(data) + size, size))
    )


def big_endian(data: bytes, size: int) -> list[int]:
    """The unsigned big-endian integers of ``size`` bytes each packed in ``data``, at C speed
    (a numpy word holds 64 bits, an IPv6 address 128)."""
    return list(map(int.from_bytes, chunks(data, size)))


def packed(values: Iterator[int] | list[int], size: int) -> bytes:
    """Integers as unsigned big-endian ``size``-byte words, at C speed."""
    return b"".join(map(int.to_bytes, values, repeat(size)))
