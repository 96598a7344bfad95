"""A loaded registry's grants kept as columns, found one prefix or one entity at a time.

A registry loaded from a snapshot (or read in bulk from a plain file) answers
from its compiled index and holds its grants only as columns -- a snapshot's
stay in the file. A change -- one registration arriving from Kafka -- must
not turn a million rows into a million objects to touch a few of them: it
needs the entity it names and the grants at the prefixes it gives. These
lookups answer exactly that: the rows of one entity (the rows are in entity
order), the rows at one prefix (a 32-bit key per row, sorted once, each hit
checked against its row) and an entity by its id. They hold 8 bytes a grant;
a snapshot's rows and entities stay in its file and are read one at a time.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Protocol

import numpy as np

from policysim.policies.prefixes import PrefixColumns

# The rows' prefix keys: a hash of (family, length, network), each hit checked
_K = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9)
_LOW64 = (1 << 64) - 1
_CHUNK = 1 << 16
_PREFIX = ("family", "length", "high", "low")  # the state columns that give a row's prefix

EntityRow = tuple  # id, name, category, revocations ([when, as given], ...)


class Columns(Protocol):
    """A state's grant columns (see ``registry.STATE_COLUMNS``), one row per grant."""

    size: int  # rows

    def column(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """A column's rows from ``start`` to ``stop`` (read for the caller, not kept)."""

    def row(self, row: int) -> tuple:
        """One row's values as Python ints and floats, in ``STATE_COLUMNS`` order."""

    def value(self, name: str, row: int) -> int | float:
        """One value of one row."""


class Entities(Protocol):
    """A state's entities by number, found by id."""

    def number(self, entity_id: str) -> int | None:
        """The entity's number, None when the state has no such entity."""

    def entity(self, number: int) -> EntityRow:
        """Entity ``number``'s id, name, category and revocations."""


class ArrayColumns:
    """:class:`Columns` over arrays in memory."""

    def __init__(self, arrays: dict[str, np.ndarray], names: tuple[str, ...]) -> None:
        self._arrays = arrays
        self._names = names
        self.size = len(arrays[names[0]])

    def column(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self._arrays[name][start:stop]

    def row(self, row: int) -> tuple:
        return tuple(self._arrays[name][row].item() for name in self._names)

    def value(self, name: str, row: int) -> int | float:
        return self._arrays[name][row].item()


class ListedEntities:
    """:class:`Entities` over the entity rows in memory."""

    def __init__(self, rows: list[EntityRow]) -> None:
        self._rows = rows
        self._numbers = {row[0]: number for number, row in enumerate(rows)}

    def number(self, entity_id: str) -> int | None:
        return self._numbers.get(entity_id)

    def entity(self, number: int) -> EntityRow:
        return tuple(self._rows[number])


class StoredGrants:
    """The grants of a registry state, found by prefix and by entity without objects."""

    def __init__(self, columns: Columns, entities: Entities) -> None:
        self.columns = columns
        self.entities = entities
        self.size = columns.size
        keys = np.empty(self.size, np.uint32)
        self._mapped: list[int] = []  # IPv6 rows covering the mapped block: also at 0.0.0.0/0
        self.lengths: dict[int, set[int]] = {4: set(), 6: set()}  # of the rows, by family
        for first in range(0, self.size, _CHUNK):  # a chunk at a time: little read at once
            stop = min(self.size, first + _CHUNK)
            prefixes = PrefixColumns(*(columns.column(name, first, stop) for name in _PREFIX))
            family, length = prefixes.family, prefixes.length
            keys[first:stop] = _keys(family, length, prefixes.high, prefixes.low)
            for version in (4, 6):
                self.lengths[version].update(np.unique(length[family == version]).tolist())
            self._mapped.extend(first + row for row in prefixes.mapped_rows())
        if self._mapped:
            self.lengths[4].add(0)
        self._order = np.argsort(keys, kind="stable").astype(np.int32)
        self._keys = keys[self._order]

    def rows_of(self, number: int) -> range:
        """The rows of entity ``number``, in the order they were applied (the rows are in entity
        order: a bisection reads a few of them)."""
        rows = range(self.size)
        first = bisect_left(rows, number, key=self._entity_of)
        return range(first, bisect_left(rows, number + 1, lo=first, key=self._entity_of))

    def _entity_of(self, row: int) -> int:
        return int(self.columns.value("entity", row))

    def rows_at(self, version: int, network: int, length: int) -> list[int]:
        """The rows granting exactly this prefix (0.0.0.0/0: with the IPv6 rows covering the
        mapped block), in row order."""
        wanted = (version, length, network >> 64, network & _LOW64)
        key = _key(*wanted)
        first = int(np.searchsorted(self._keys, key, "left"))
        end = int(np.searchsorted(self._keys, key, "right"))
        rows = sorted(
            row for row in self._order[first:end].tolist() if self._prefix_of(row) == wanted
        )
        if version == 4 and length == 0 and self._mapped:
            rows = sorted({*rows, *self._mapped})
        return rows

    def _prefix_of(self, row: int) -> tuple[int, int, int, int]:
        return tuple(self.columns.value(name, row) for name in _PREFIX)

    def row(self, row: int) -> tuple:
        """One row's values as Python ints and floats."""
        return self.columns.row(row)


def _keys(family: np.ndarray, length: np.ndarray, high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Each row's prefix key: the top 32 bits of a 64-bit multiplicative hash (computed in
    place: two temporary columns, not five)."""
    k1, k2, k3 = (np.uint64(k) for k in _K)
    mixed = high.astype(np.uint64)
    mixed *= k1
    part = low.astype(np.uint64)
    part *= k2
    mixed ^= part
    part[:] = length
    part <<= np.uint64(1)
    part |= family == 6
    part *= k3
    mixed ^= part
    del part
    mixed >>= np.uint64(32)
    return mixed.astype(np.uint32)


def _key(version: int, length: int, high: int, low: int) -> np.uint32:
    """:func:`_keys` of one prefix, in Python ints (each product wrapped to 64 bits as numpy
    wraps it)."""
    kind = length << 1 | (version == 6)
    k1, k2, k3 = _K
    mixed = (high * k1 & _LOW64) ^ (low * k2 & _LOW64) ^ (kind * k3 & _LOW64)
    return np.uint32(mixed >> 32)
