"""Address columns: many parsed addresses laid out as arrays, shared by every set lookup.

The worker checks each event's addresses against several sets and several
policies; converting a column of addresses to a numpy array once (and not
once per set) is what lets the vectorised IPv4 path run near the speed of a
bare ``numpy.searchsorted``.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter

import numpy as np

from policysim.policies.addresses import IP, parse_ip

_VERSION = itemgetter(0)
_VALUE = itemgetter(1)


class AddressColumns:
    """IPv4 values as a ``uint32`` array, IPv6 values as Python ints, with their positions.

    ``v4_positions`` is ``None`` when every address is IPv4 (the common case),
    so results need no scatter.
    """

    __slots__ = ("ips", "size", "v4", "v4_positions", "v6", "v6_positions")

    def __init__(self, ips: Sequence[IP]) -> None:
        self.ips = ips
        self.size = len(ips)
        self.v4_positions: np.ndarray | None = None
        self.v6: list[int] = []
        self.v6_positions: list[int] = []
        if not ips:
            self.v4 = np.empty(0, dtype=np.uint32)
            return
        is_v4 = np.fromiter(map(_VERSION, ips), dtype=np.uint8, count=self.size) == 4
        if is_v4.all():
            self.v4 = np.fromiter(map(_VALUE, ips), dtype=np.uint32, count=self.size)
            return
        positions = np.flatnonzero(is_v4)
        self.v4_positions = positions
        self.v4 = np.fromiter((ips[i][1] for i in positions.tolist()), np.uint32, len(positions))
        self.v6_positions = np.flatnonzero(~is_v4).tolist()
        self.v6 = [ips[i][1] for i in self.v6_positions]

    @classmethod
    def of(cls, ips: Sequence[IP] | AddressColumns) -> AddressColumns:
        """Accept columns or build them, so callers may pass either."""
        return ips if isinstance(ips, AddressColumns) else cls(ips)

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> AddressColumns:
        """Parse address texts (``ValueError`` on the first bad one).

        A column of dotted IPv4 texts, the common case, is packed by
        ``inet_pton`` in one pass at C speed; any other text (IPv6, IPv4-mapped
        IPv6, a typo) makes that fail and the column is parsed address by
        address with :func:`parse_ip`, which accepts exactly the same IPv4 texts.
        """
        try:
            packed = b"".join(map(socket.inet_pton, repeat(socket.AF_INET, len(texts)), texts))
        except OSError:
            return cls([parse_ip(text) for text in texts])
        values = np.frombuffer(packed, dtype=">u4").tolist()
        return cls(list(zip(repeat(4, len(values)), values, strict=True)))

    def __len__(self) -> int:
        return self.size

    def scatter(self, v4_hits: np.ndarray, v6_hits: Sequence[bool]) -> np.ndarray:
        """Combine per-family answers into one boolean array in input order."""
        if self.v4_positions is None and not self.v6:
            return v4_hits
        out = np.zeros(self.size, dtype=bool)
        if self.v4_positions is not None:
            out[self.v4_positions] = v4_hits
        if self.v6:
            out[self.v6_positions] = v6_hits
        return out
