"""A loaded registry's grants kept as columns, found one prefix or one entity at a time.

A registry loaded from a snapshot (or read in bulk from a plain file) answers
from its compiled index and holds its grants only as columns. A change -- one
registration arriving from Kafka -- must not turn a million rows into a
million objects to touch a few of them: it needs the entity it names and the
grants at the prefixes it gives. These columns answer exactly that: the rows
of one entity (the rows are in entity order) and the rows at one prefix (by a
64-bit key per row, sorted once, each hit checked against the columns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from policysim.policies.prefixes import MAPPED_START

# The rows' prefix keys: a hash of (family, length, network), each hit checked
_K = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9)
_LOW64 = (1 << 64) - 1

Row = tuple  # entity, category, family, length, high, low, start, expires, revoked, until, raw


class StoredGrants:
    """The grant columns of a registry state with lookups by prefix and by entity.

    ``arrays`` are the state's columns (see ``registry.STATE_COLUMNS``, one row per grant, in
    entity order); ``entities`` its entity rows ``[id, name, category, revocations]`` by
    number.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], entities: Sequence[Sequence]) -> None:
        self.columns = {name: np.asarray(arrays[name]) for name in arrays}
        family, length = self.columns["family"], self.columns["length"]
        high, low = self.columns["high"], self.columns["low"]
        keys = _keys(family, length, high, low)
        self._order = np.argsort(keys, kind="stable").astype(np.int32)
        self._keys = keys[self._order]
        self.size = len(family)
        # the entities as lists by number, each name and category one shared object
        shared: dict[str | None, str | None] = {}
        self.ids = [entity[0] for entity in entities]
        self.numbers = dict(zip(self.ids, range(len(self.ids)), strict=True))
        self._names = [shared.setdefault(entity[1], entity[1]) for entity in entities]
        self._categories = [shared.setdefault(entity[2], entity[2]) for entity in entities]
        self._revocations = {number: e[3] for number, e in enumerate(entities) if e[3]}
        self._first_rows = np.searchsorted(self.columns["entity"], np.arange(len(entities) + 1))
        near = np.flatnonzero((family == 6) & (high == 0))
        self._mapped = [  # IPv6 rows covering the mapped block: also grants at 0.0.0.0/0
            row
            for row in near.tolist()
            if int(low[row]) <= MAPPED_START < int(low[row]) + (1 << (128 - int(length[row])))
        ]
        self.lengths = {
            version: set(np.unique(length[family == version]).tolist()) for version in (4, 6)
        }
        if self._mapped:
            self.lengths[4].add(0)

    def entity(self, number: int) -> tuple[str, str | None, str | None, list]:
        """Entity ``number``: id, name, category and revocations ``[when, as given]``."""
        revocations = self._revocations.get(number, [])
        return self.ids[number], self._names[number], self._categories[number], revocations

    def rows_of(self, number: int) -> range:
        """The rows of entity ``number``, in the order they were applied."""
        return range(int(self._first_rows[number]), int(self._first_rows[number + 1]))

    def rows_at(self, version: int, network: int, length: int) -> list[int]:
        """The rows granting exactly this prefix (0.0.0.0/0: with the IPv6 rows covering the
        mapped block), in row order."""
        high, low = network >> 64, network & _LOW64
        key = _key(version, length, high, low)
        first = int(np.searchsorted(self._keys, key, "left"))
        end = int(np.searchsorted(self._keys, key, "right"))
        columns = self.columns
        rows = sorted(
            row
            for row in self._order[first:end].tolist()
            if columns["family"][row] == version
            and columns["length"][row] == length
            and columns["high"][row] == high
            and columns["low"][row] == low
        )
        if version == 4 and length == 0 and self._mapped:
            rows = sorted({*rows, *self._mapped})
        return rows

    def row(self, row: int) -> Row:
        """One row's values as Python ints and floats."""
        return tuple(column[row].item() for column in self.columns.values())


def _keys(family: np.ndarray, length: np.ndarray, high: np.ndarray, low: np.ndarray) -> np.ndarray:
    kind = length.astype(np.uint64) << np.uint64(1) | (family == 6).astype(np.uint64)
    k1, k2, k3 = (np.uint64(k) for k in _K)
    return (high.astype(np.uint64) * k1) ^ (low.astype(np.uint64) * k2) ^ (kind * k3)


def _key(version: int, length: int, high: int, low: int) -> np.uint64:
    """:func:`_keys` of one prefix, in Python ints (each product wrapped to 64 bits as numpy
    wraps it)."""
    kind = length << 1 | (version == 6)
    k1, k2, k3 = _K
    return np.uint64((high * k1 & _LOW64) ^ (low * k2 & _LOW64) ^ (kind * k3 & _LOW64))
