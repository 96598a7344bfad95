"""The registry's batch index: every IPv4 grant as numpy columns, one probe per prefix length.

A batch asks, for each address at its own event time, two things at once:
which category answers (the first grant that holds, most specific prefix
first, in the registry's grant order) and in which categories the address is
registered at all (a bit per category, so every view of categories is one
``&`` on the same probe). Per prefix length the grants sit as sorted arrays of
network, start, end and category code; an address is masked to the length,
found by one ``searchsorted`` and its grant's window checked for all
addresses at once, so time costs two comparisons and no Python per address.

The index is a snapshot of the registry's grants: the registry routes
addresses under prefixes changed since it was built to its exact path and
rebuilds it only when those grow large, so one registration costs a bitmap
insert, not a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

MAX_CATEGORIES = 63  # one bit per category in a uint64 mask
NONE = -1  # the category code of "not registered"


class _Level:
    __slots__ = ("bits", "codes", "duplicates", "mask", "nets", "starts", "untils")

    def __init__(self, mask: int, rows: list[tuple[int, float, float, int]]) -> None:
        self.mask = np.uint32(mask)
        self.nets = np.fromiter((r[0] for r in rows), np.uint32, len(rows))
        self.starts = np.fromiter((r[1] for r in rows), np.float64, len(rows))
        self.untils = np.fromiter((r[2] for r in rows), np.float64, len(rows))
        self.codes = np.fromiter((r[3] for r in rows), np.int8, len(rows))
        self.bits = np.left_shift(np.uint64(1), self.codes.astype(np.uint64))
        # the longest run of one network (several grants of one prefix), at least 1
        _, counts = np.unique(self.nets, return_counts=True)
        self.duplicates = int(counts.max()) if len(counts) else 0


class GrantIndex:
    """IPv4 grants by prefix length, most specific first, answering batches in numpy."""

    __slots__ = ("_levels", "size")

    def __init__(self, levels: Iterable[tuple[int, list[tuple[int, float, float, int]]]]) -> None:
        """``levels``: (network mask, rows of (network, start, until, category code)) with
        levels most specific first and the rows of one network in the registry's grant order."""
        self._levels = [_Level(mask, rows) for mask, rows in levels if rows]
        self.size = sum(len(level.nets) for level in self._levels)

    def nbytes(self) -> int:
        """Bytes held by the columns (the index's whole memory, short of a few objects)."""
        return sum(
            a.nbytes
            for level in self._levels
            for a in (level.nets, level.starts, level.untils, level.codes, level.bits)
        )

    def probe(self, values: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For IPv4 ``values`` at times ``ts``: (category code of the grant that answers,
        ``NONE`` if none; the mask of every category holding the address).

        The addresses are sorted first: masking keeps them sorted, and a sorted
        ``searchsorted`` walks each level's networks once instead of jumping about
        (three to four times faster on large registries).
        """
        order = np.argsort(values)
        sorted_codes, sorted_bits = self._probe_sorted(values[order], ts[order])
        codes = np.empty_like(sorted_codes)
        bits = np.empty_like(sorted_bits)
        codes[order] = sorted_codes
        bits[order] = sorted_bits
        return codes, bits

    def _probe_sorted(self, values: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes = np.full(len(values), NONE, dtype=np.int8)
        bits = np.zeros(len(values), dtype=np.uint64)
        for level in self._levels:
            keys = values & level.mask
            first = np.searchsorted(level.nets, keys)
            last = len(level.nets) - 1
            for k in range(level.duplicates):
                rows = np.minimum(first + k, last)
                found = (first + k <= last) & (level.nets[rows] == keys)
                if k and not found.any():
                    break
                active = found & (level.starts[rows] <= ts) & (ts < level.untils[rows])
                bits |= np.where(active, level.bits[rows], np.uint64(0))
                answers = active & (codes == NONE)
                codes[answers] = level.codes[rows[answers]]
        return codes, bits
