"""The registry's batch index: the IPv4 space cut where any grant starts or ends, as numpy columns.

A batch asks, for each address at its own event time, two things at once:
which category answers (the first grant that holds, most specific prefix
first, in the registry's grant order) and in which categories the address is
registered at all (a bit per category, so every view of categories is one
``&`` on the same probe). The index cuts the IPv4 space at every grant's
first and past-last address; within one piece every address is covered by
the same grants, listed once in the order that decides the answer. A batch
of addresses is sorted, placed in its pieces by one ``searchsorted``, and
the windows of each piece's grants are compared for all addresses at once,
one grant deep at a time, so time costs two comparisons and no Python per
address.

The index is a snapshot of the registry's grants: the registry routes
addresses under prefixes changed since it was built to its exact path and
rebuilds it only when those grow large, so one registration costs a bitmap
insert, not a rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_CATEGORIES = 63  # one bit per category in a uint64 mask
NONE = -1  # the category code of "not registered"
# A piece covered by many grants repeats them all: past this many (piece, grant) pairs per
# grant (many entities holding one short prefix) the registry answers exactly instead.
MAX_PAIRS_PER_GRANT = 16

Row = tuple[int, int, int, float, float, int]  # network, length, position, start, until, code


class GrantIndex:
    """IPv4 grants per piece of address space, answering batches in numpy."""

    __slots__ = ("_bounds", "_codes", "_counts", "_first", "_starts", "_untils", "size")

    @classmethod
    def build(cls, rows: Sequence[Row]) -> GrantIndex | None:
        """The index of ``rows``: every IPv4 grant as (network, prefix length, position among
        the grants of that prefix, start, until, category code); None when the pieces would
        repeat the grants too often (see ``MAX_PAIRS_PER_GRANT``)."""
        n = len(rows)
        nets, lengths, positions = (
            np.fromiter((r[i] for r in rows), np.int64, n) for i in range(3)
        )
        starts, untils = (np.fromiter((r[i] for r in rows), np.float64, n) for i in (3, 4))
        codes = np.fromiter((r[5] for r in rows), np.int8, n)
        ends = nets + np.left_shift(np.int64(1), 32 - lengths)
        bounds = np.unique(np.concatenate([nets, ends, np.zeros(1, np.int64)]))
        first_piece = np.searchsorted(bounds, nets)
        spans = np.searchsorted(bounds, ends) - first_piece
        if int(spans.sum()) > MAX_PAIRS_PER_GRANT * max(n, 1 << 16):
            return None
        grant = np.repeat(np.arange(n), spans)
        piece = np.repeat(first_piece - (np.cumsum(spans) - spans), spans) + np.arange(len(grant))
        order = np.lexsort((positions[grant], -lengths[grant], piece))
        grant, piece = grant[order], piece[order]
        counts = np.bincount(piece, minlength=len(bounds))
        index = cls.__new__(cls)
        index.size = n
        index._bounds = bounds
        index._counts = counts.astype(np.int32)
        index._first = np.cumsum(counts) - counts
        index._starts = starts[grant]
        index._untils = untils[grant]
        index._codes = codes[grant]
        return index

    def nbytes(self) -> int:
        """Bytes held by the columns (the index's whole memory, short of a few objects)."""
        return (
            sum(
                a.nbytes
                for a in (self._bounds, self._counts, self._first, self._starts, self._untils)
            )
            + self._codes.nbytes
        )

    def probe(self, values: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For IPv4 ``values`` at times ``ts``: (category code of the grant that answers,
        ``NONE`` if none; the mask of every category holding the address).

        The addresses are sorted first, so the ``searchsorted`` and the gathers
        walk the columns in order instead of jumping about.
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
        piece = np.searchsorted(self._bounds, values.astype(np.int64), side="right") - 1
        counts = self._counts[piece]
        first = self._first[piece]
        live = np.flatnonzero(counts)
        depth = 0
        while len(live):
            rows = first[live] + depth
            at = ts[live]
            active = (self._starts[rows] <= at) & (at < self._untils[rows])
            held, rows = live[active], rows[active]
            held_codes = self._codes[rows]
            bits[held] |= np.left_shift(np.uint64(1), held_codes.astype(np.uint64))
            answers = codes[held] == NONE
            codes[held[answers]] = held_codes[answers]
            depth += 1
            live = live[counts[live] > depth]
        return codes, bits
