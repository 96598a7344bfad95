"""Each (policy, event id) counted once, however often its verdict is delivered.

The verdicts topic is at-least-once: a worker killed before it commits has
its batch decided again by another, and those verdicts arrive a second time,
possibly long after the first. So the report remembers every verdict it has
counted, as a 64-bit hash of (policy, event id): 8 bytes each in a sorted
numpy array, plus a small set of the newest hashes that is merged into the
array whenever it fills. A hash collision (odds about n² / 2⁶⁵ for n verdicts,
under one in ten million for a million) would drop one verdict as a duplicate.
"""

from __future__ import annotations

import numpy as np

# Newest hashes held as Python ints before a merge: bounds the set's ~70 bytes per entry.
RECENT = 16_384
# A one-bit-per-slot filter in front of the array (2 MB): a key whose bit is clear was never
# seen, so most verdicts skip the array's binary search.
FILTER_BITS = 1 << 24


class SeenVerdicts:
    """A set of verdict keys that costs 8 bytes per verdict once merged."""

    def __init__(self) -> None:
        self._merged = np.empty(0, dtype=np.int64)
        self._recent: set[int] = set()
        self._filter = bytearray(FILTER_BITS // 8)
        self.duplicates = 0

    def first_time(self, policy_index: int, event_id: str) -> bool:
        """True the first time a (policy, event id) is seen; later, counts a duplicate."""
        key = hash((policy_index, event_id))
        slot, bit = (key >> 3) & (FILTER_BITS // 8 - 1), 1 << (key & 7)
        if self._filter[slot] & bit and (key in self._recent or self._in_merged(key)):
            self.duplicates += 1
            return False
        self._filter[slot] |= bit
        self._recent.add(key)
        if len(self._recent) >= RECENT:
            self._merge()
        return True

    def _in_merged(self, key: int) -> bool:
        merged = self._merged
        if not merged.size:
            return False
        at = int(np.searchsorted(merged, key))
        return at < merged.size and int(merged[at]) == key

    def _merge(self) -> None:
        fresh = np.sort(np.fromiter(self._recent, dtype=np.int64, count=len(self._recent)))
        # One linear pass (both sides sorted, disjoint), not a sort of everything held.
        self._merged = np.insert(self._merged, np.searchsorted(self._merged, fresh), fresh)
        self._recent.clear()

    @property
    def bytes_held(self) -> int:
        """What grows with the verdict count: the merged array (the rest is bounded)."""
        return self._merged.nbytes
