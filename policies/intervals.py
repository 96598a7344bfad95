"""Sorted, disjoint, non-adjacent half-open integer ranges: the IPv6 side of an IP set.

A roaring bitmap over 128-bit (or even the upper 64-bit) values grows with
the number of *addresses*: one ``/32`` is 2**32 values at the /64 level. An
interval array grows with the number of *prefixes* (each prefix adds at most
one interval, merging only shrinks it), membership is one binary search, and
the algebra is a linear merge. Ranges are kept merged and non-adjacent, so
two sets with the same members have the same arrays (equality is structural).
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator


class IntervalSet:
    """A set of non-negative integers stored as merged ``[start, end)`` ranges."""

    __slots__ = ("ends", "starts")

    def __init__(self, starts: list[int] | None = None, ends: list[int] | None = None) -> None:
        self.starts: list[int] = starts if starts is not None else []
        self.ends: list[int] = ends if ends is not None else []

    @classmethod
    def from_ranges(cls, ranges: Iterable[tuple[int, int]]) -> IntervalSet:
        """Sort and merge arbitrary (possibly overlapping) ranges in one pass."""
        ordered = sorted(r for r in ranges if r[0] < r[1])
        return cls.merged([start for start, _ in ordered], [end for _, end in ordered])

    @classmethod
    def merged(cls, starts: list[int], ends: list[int]) -> IntervalSet:
        """Non-empty ranges sorted by start, merged where they overlap or touch (lists whose
        ranges all stand apart are kept as they are)."""
        if not any(map(operator.le, starts[1:], ends[:-1])):  # each ends before the next
            return cls(starts, ends)
        merged_starts: list[int] = []
        merged_ends: list[int] = []
        reach = -1
        for start, end in zip(starts, ends, strict=True):
            if start <= reach:
                if end > reach:
                    reach = merged_ends[-1] = end
            else:
                merged_starts.append(start)
                merged_ends.append(end)
                reach = end
        return cls(merged_starts, merged_ends)

    def add_range(self, start: int, end: int) -> None:
        """Insert ``[start, end)``, merging with every range it touches."""
        if start >= end:
            return
        first = bisect_left(self.ends, start)
        stop = bisect_right(self.starts, end)
        if first < stop:
            start = min(start, self.starts[first])
            end = max(end, self.ends[stop - 1])
        self.starts[first:stop] = [start]
        self.ends[first:stop] = [end]

    def __contains__(self, value: int) -> bool:
        i = bisect_right(self.starts, value) - 1
        return i >= 0 and value < self.ends[i]

    def __len__(self) -> int:
        return len(self.starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return self.starts == other.starts and self.ends == other.ends

    __hash__ = None  # type: ignore[assignment]

    def ranges(self) -> Iterator[tuple[int, int]]:
        """The merged ranges in ascending order."""
        return zip(self.starts, self.ends, strict=True)

    def size(self) -> int:
        """How many integers the set holds."""
        return sum(self.ends) - sum(self.starts)

    def copy(self) -> IntervalSet:
        return IntervalSet(list(self.starts), list(self.ends))

    def union(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet.from_ranges([*self.ranges(), *other.ranges()])

    def intersection(self, other: IntervalSet) -> IntervalSet:
        """Two-pointer sweep: each step retires the range that ends first."""
        starts: list[int] = []
        ends: list[int] = []
        a, b = list(self.ranges()), list(other.ranges())
        i = j = 0
        while i < len(a) and j < len(b):
            start = max(a[i][0], b[j][0])
            end = min(a[i][1], b[j][1])
            if start < end:
                starts.append(start)
                ends.append(end)
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet(starts, ends)

    def difference(self, other: IntervalSet) -> IntervalSet:
        """Cut every range of ``other`` out of this set's ranges."""
        starts: list[int] = []
        ends: list[int] = []
        cuts = list(other.ranges())
        j = 0
        for start, end in self.ranges():
            while j < len(cuts) and cuts[j][1] <= start:
                j += 1
            k = j
            while k < len(cuts) and cuts[k][0] < end:
                if cuts[k][0] > start:
                    starts.append(start)
                    ends.append(cuts[k][0])
                start = max(start, cuts[k][1])
                k += 1
            if start < end:
                starts.append(start)
                ends.append(end)
        return IntervalSet(starts, ends)

    def issubset(self, other: IntervalSet) -> bool:
        return not self.difference(other).starts
