"""The registry's compiled index: one address space cut where any grant starts or ends, as numpy
columns, answering batches in numpy and single addresses at C speed.

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

One address (the per-event path) is placed in its piece by a binary search (for
IPv4 within a block of a small table indexed by the top bits, so the search is
a step or two) and its piece's grants are compared with its time. With the C
extension built (``policysim.policies._finder``, declared in ``pyproject.toml``) that is C
reading these columns in place, batches too; otherwise a Python function reads
them through ``memoryview`` s (Python ints and floats at C speed, no numpy
scalar per lookup) and batches run in numpy. IPv6 has its own index.

The columns are laid out for the lookups of a large index, which miss the
caches: a piece is one record of ``pieces`` (its first address and its first
row; its rows end where the next piece's begin) and a row's window is one pair
in ``windows`` (start, until), so an address touches the block table, one piece
record and, when grants cover it, their windows. When every time is a whole
second (as every registry file gives them) a window is two 32-bit seconds, 0
for "no start" and ``NEVER`` for "no end", and a lookup's time is clamped
between them first, which keeps every comparison exact; otherwise it is two
floats, twice the bytes.

The index is a snapshot of the registry's grants: the registry routes
addresses under prefixes changed since it was built to its exact path and
rebuilds it only when those grow large, so one registration costs a bitmap
insert, not a rebuild.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence

import numpy as np

from policysim.policies.prefixes import packed

LAYOUT = 3  # the layout of the columns below; a C build for another one is not used
try:  # the lookup compiled in C (pyproject.toml); without a compiler, the Python below answers
    from policysim.policies import _finder as NATIVE
except ImportError:  # pragma: no cover - exercised by a test that hides the module
    NATIVE = None
if getattr(NATIVE, "LAYOUT", None) != LAYOUT:  # a stale build left in place: Python answers
    NATIVE = None

MAX_CATEGORIES = 63  # one bit per category in a uint64 mask
NONE = -1  # the category code of "not registered"
# A piece covered by many grants repeats them all: past this many (piece, grant) pairs per
# grant (many entities holding one short prefix) the registry answers exactly instead.
MAX_PAIRS_PER_GRANT = 16

Row = tuple[int, int, int, float, float, int]  # network, length, position, start, until, code
WIDTH = {4: 32, 6: 128}
STRIDE = {4: 2, 6: 3}  # words per piece record: (start, first row); (high, low, first row)
# The arrays of an index with their dtypes on disk (``pieces``: see ``PIECES``).
COLUMNS = ("shape", "pieces", "blocks", "windows", "codes")  # the shape says the others' dtypes
DTYPES = {"blocks": "<i4", "codes": "i1", "shape": "<i8"}
PIECES = {4: "<u4", 6: "<u8"}  # IPv4 records in 32-bit words: half the cache lines per lookup
WINDOWS = {4: "<u4", 8: "<f8"}  # by bytes per time: whole seconds, or floats
NEVER = (1 << 32) - 1  # the 32-bit "until" of a grant with no end (its "start" 0: none)
LATEST = NEVER - 0.5  # a time past every finite 32-bit window, and before NEVER


class GrantIndex:
    """The grants of one address family per piece of address space (see the module docstring)."""

    __slots__ = (
        "_blocks",
        "_bounds6",
        "_codes",
        "_native",
        "_pieces",
        "_shift",
        "_windows",
        "size",
        "version",
    )

    @classmethod
    def build(cls, rows: Sequence[Row], version: int = 4) -> GrantIndex | None:
        """The index of ``rows``: every grant of the family as (network, prefix length,
        position among the grants of that prefix, start, until, category code); None when the
        pieces would repeat the grants too often (see ``MAX_PAIRS_PER_GRANT``)."""
        n = len(rows)
        lengths, positions = (np.fromiter((r[i] for r in rows), np.int64, n) for i in (1, 2))
        starts, untils = (np.fromiter((r[i] for r in rows), np.float64, n) for i in (3, 4))
        codes = np.fromiter((r[5] for r in rows), np.int8, n)
        return cls.from_grants(
            version, [r[0] for r in rows], lengths, positions, starts, untils, codes
        )

    @classmethod
    def from_grants(
        cls,
        version: int,
        networks: list[int],
        lengths: np.ndarray,
        positions: np.ndarray,
        starts: np.ndarray,
        untils: np.ndarray,
        codes: np.ndarray,
    ) -> GrantIndex | None:
        """:meth:`build` from columns (the networks as Python ints, the rest as arrays)."""
        n = len(networks)
        bounds6 = None
        if version == 4:
            nets = np.array(networks, np.int64)
            ends = nets + np.left_shift(np.int64(1), 32 - lengths)
            bounds = _distinct(np.concatenate([nets, ends, np.zeros(1, np.int64)]))
            bounds = bounds[bounds < 1 << 32]  # a piece past the last address has no address
            first_piece = np.searchsorted(bounds, nets)
            end_piece = np.searchsorted(bounds, ends)
        else:  # 128-bit bounds: placed by rank in Python, the pieces then as for IPv4
            ends_list = [
                net + (1 << (128 - length))
                for net, length in zip(networks, lengths.tolist(), strict=True)
            ]
            bounds6 = sorted({0, *networks, *ends_list} - {1 << 128})  # 129 bits: no piece
            rank = {bound: at for at, bound in enumerate(bounds6)}
            rank[1 << 128] = len(bounds6)
            first_piece = np.fromiter(map(rank.__getitem__, networks), np.int64, n)
            end_piece = np.fromiter(map(rank.__getitem__, ends_list), np.int64, n)
            bounds = _halves(bounds6)
        spans = end_piece - first_piece
        if int(spans.sum()) > MAX_PAIRS_PER_GRANT * max(n, 1 << 16):
            return None
        grant = np.repeat(np.arange(n), spans)
        piece = np.repeat(first_piece - (np.cumsum(spans) - spans), spans) + np.arange(len(grant))
        order = _piece_order(piece, lengths[grant], positions[grant])
        grant, piece = grant[order], piece[order]
        counts = np.bincount(piece, minlength=len(bounds))
        if len(grant) >= 1 << 32:  # past a 32-bit row number: the exact path answers
            return None
        pieces = np.empty((len(bounds), STRIDE[version]), PIECES[version])
        pieces[:, :-1] = bounds.reshape(len(bounds), -1)
        pieces[:, -1] = np.cumsum(counts) - counts
        index = cls.__new__(cls)
        index._native = None
        index._bounds6 = None  # 128-bit ints cost 50 bytes a piece: made again only if needed
        index.size = n
        index.version = version
        index._pieces = pieces.ravel()
        index._windows = _windows(starts, untils)[grant].ravel()
        index._codes = codes[grant]
        index._shift, index._blocks = _block_table(bounds, version)
        return index

    def columns(self) -> dict[str, np.ndarray]:
        """The index as arrays (for a snapshot)."""
        return {
            "shape": np.array([self.size, self._shift, self._windows.itemsize], np.int64),
            "pieces": self._pieces,
            "blocks": self._blocks,
            "windows": self._windows,
            "codes": self._codes,
        }

    @classmethod
    def from_columns(cls, version: int, columns: dict[str, np.ndarray]) -> GrantIndex:
        """The index :meth:`columns` gave, the arrays used as they are (no copy)."""
        index = cls.__new__(cls)
        index._native = None
        index._bounds6 = None
        index.version = version
        shape = columns["shape"]
        if len(shape) != 3:
            raise ValueError("its index shape is not (prefixes, shift, bytes per time)")
        index.size, index._shift, time_bytes = (int(x) for x in shape)
        pieces, stride = columns["pieces"], STRIDE[version]
        if (
            columns["windows"].itemsize != time_bytes
            or not len(pieces)
            or len(pieces) % stride
            or len(columns["windows"]) != 2 * len(columns["codes"])
            or len(columns["blocks"]) != (1 << WIDTH[version] - index._shift) + 1
        ):
            raise ValueError("its index columns do not fit together")
        index._pieces = pieces
        index._blocks = columns["blocks"]
        index._windows = columns["windows"]
        index._codes = columns["codes"]
        return index

    def nbytes(self) -> int:
        """Bytes held by the columns (the index's whole memory, short of a few objects)."""
        arrays = (self._pieces, self._blocks, self._windows, self._codes)
        held = sum(a.nbytes for a in arrays)
        if self._bounds6 is not None:
            held += sum(8 + 4 * (b.bit_length() // 30 + 1) + 28 for b in self._bounds6)
        return held

    def native_columns(self) -> tuple:
        """The columns as the C finder (``policysim.policies._finder``) reads them: native
        byte order and contiguous (no copy when they already are), then the shift; made once."""
        if self._native is None:
            arrays = (self._pieces, self._blocks, self._windows, self._codes)
            native = tuple(np.ascontiguousarray(a, a.dtype.newbyteorder("=")) for a in arrays)
            self._native = (*native, self._shift)
        return self._native

    def _bounds(self) -> Sequence[int]:
        """Each piece's first address: a strided view of the IPv4 records, Python ints for
        IPv6 (128 bits, made once)."""
        if self.version == 4:
            return _native(self._pieces)[0::2]
        if self._bounds6 is None:
            highs, lows = self._pieces[0::3].tolist(), self._pieces[1::3].tolist()
            self._bounds6 = [high << 64 | low for high, low in zip(highs, lows, strict=True)]
        return self._bounds6

    def finder(
        self, mask: int, prefilter: Callable[[int], bool] | None = None
    ) -> Callable[[int, float], int]:
        """The per-address path in Python (the reference the C finder is tested against): a
        function giving, for one address value at a time, the category code of the first
        grant holding it whose category's bit is in ``mask`` (``NONE`` if none).
        ``prefilter`` (a bit set's C probe) answers misses first.

        The columns are read through memoryviews bound into the function: indexing one gives
        a Python number at C speed, and no attribute is looked up per call.
        """
        bounds = self._bounds()
        pieces, blocks, windows, codes = map(
            _native, (self._pieces, self._blocks, self._windows, self._codes)
        )
        shift, stride, last, rows = self._shift, STRIDE[self.version], len(bounds) - 1, len(codes)
        seconds = self._windows.itemsize == 4

        def find(value: int, ts: float) -> int:
            if prefilter is not None and not prefilter(value):
                return NONE
            if seconds:
                ts = clamped(ts)
            block = value >> shift
            piece = bisect_right(bounds, value, blocks[block], blocks[block + 1] + 1) - 1
            at = piece * stride + stride - 1
            end = pieces[at + stride] if piece < last else rows
            for row in range(pieces[at], end):
                if windows[2 * row] <= ts < windows[2 * row + 1]:
                    code = codes[row]
                    if mask >> code & 1:
                        return code
            return NONE

        return find

    def probe(self, values: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For IPv4 ``values`` at times ``ts``: (category code of the grant that answers,
        ``NONE`` if none; the mask of every category holding the address).

        In C when the extension is built (each address placed by its block and a bisect);
        otherwise in numpy, the addresses sorted first so that the ``searchsorted`` and the
        gathers walk the columns in order instead of jumping about.
        """
        if NATIVE is not None:
            return self._probe_native(np.ascontiguousarray(values, np.uint32), ts)
        order = np.argsort(values)
        sorted_codes, sorted_bits = self._probe_sorted(values[order], ts[order])
        codes = np.empty_like(sorted_codes)
        bits = np.empty_like(sorted_bits)
        codes[order] = sorted_codes
        bits[order] = sorted_bits
        return codes, bits

    def probe_values(self, values: list[int], ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`probe` for IPv6 values (Python ints): in C as two 64-bit halves each when the
        extension is built, otherwise each placed by a ``bisect`` over the bounds as Python
        ints (made once: a C build never needs them)."""
        if NATIVE is not None:
            return self._probe_native(_halves(values).ravel(), ts)
        bounds = self._bounds()
        pieces = np.fromiter((bisect_right(bounds, v) - 1 for v in values), np.int64, len(values))
        return self._probe_pieces(pieces, ts)

    def _probe_native(self, values: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes = np.empty(len(ts), np.int8)
        bits = np.empty(len(ts), np.uint64)
        ts = np.ascontiguousarray(ts, np.float64)
        NATIVE.probe(self.version, self.native_columns(), values, ts, codes, bits)
        return codes, bits

    def _probe_sorted(self, values: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bounds = np.ascontiguousarray(self._pieces[0::2])
        piece = np.searchsorted(bounds, values.astype(bounds.dtype), side="right") - 1
        return self._probe_pieces(piece, ts)

    def _probe_pieces(self, piece: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The grants of each address's piece compared with its time, one grant deep at a time
        for all addresses at once."""
        codes = np.full(len(piece), NONE, dtype=np.int8)
        bits = np.zeros(len(piece), dtype=np.uint64)
        stride = STRIDE[self.version]
        firsts = self._pieces[stride - 1 :: stride].astype(np.int64)
        ends = np.append(firsts[1:], len(self._codes))
        first = firsts[piece]
        counts = ends[piece] - first
        starts, untils = self._windows[0::2], self._windows[1::2]
        if self._windows.itemsize == 4:  # as clamped() does
            ts = np.where(np.isposinf(ts), float(NEVER), np.clip(ts, 0.0, LATEST))
        live = np.flatnonzero(counts)
        depth = 0
        while len(live):
            rows = first[live] + depth
            at = ts[live]
            active = (starts[rows] <= at) & (at < untils[rows])
            held, rows = live[active], rows[active]
            held_codes = self._codes[rows]
            bits[held] |= np.left_shift(np.uint64(1), held_codes.astype(np.uint64))
            answers = codes[held] == NONE
            codes[held[answers]] = held_codes[answers]
            depth += 1
            live = live[counts[live] > depth]
        return codes, bits


def _piece_order(piece: np.ndarray, lengths: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The (piece, grant) pairs ordered by piece, most specific prefix first, then position:
    one sort of a packed key when the numbers fit in it (a sort of three keys costs four
    times as much)."""
    if len(piece) and (int(piece.max()) >= 1 << 23 or int(positions.max()) >= 1 << 32):
        return np.lexsort((positions, -lengths, piece))
    packed = piece.astype(np.int64) << 40 | (128 - lengths.astype(np.int64)) << 32 | positions
    return np.argsort(packed, kind="stable")


def dtype(version: int, name: str, shape: np.ndarray) -> str:
    """The dtype of an index column on disk, given the index's ``shape`` column (read first:
    it says how many bytes a time takes)."""
    if name == "pieces":
        return PIECES[version]
    if name == "windows":
        return WINDOWS[int(shape[2])]
    return DTYPES[name]


def _windows(starts: np.ndarray, untils: np.ndarray) -> np.ndarray:
    """Each grant's (start, until) as 32-bit seconds when every time is a whole second that
    fits (no start: 0, no end: ``NEVER``), else as floats."""
    begun = starts[starts != -np.inf]
    ending = untils[untils != np.inf]
    times = np.concatenate([begun, ending])
    whole = bool(np.all((times >= 1) & (times < NEVER) & (np.floor(times) == times)))
    windows = np.empty((len(starts), 2), np.uint32 if whole else np.float64)
    if whole:
        windows[:, 0] = np.where(starts == -np.inf, 0, starts)
        windows[:, 1] = np.where(untils == np.inf, NEVER, untils)
    else:
        windows[:, 0] = starts
        windows[:, 1] = untils
    return windows


def clamped(ts: float) -> float:
    """A lookup's time as a 32-bit window compares it: between "no start" and "no end",
    where every window with an end is over; infinity itself at "no end", where no window
    holds (a NaN stays one, and holds nowhere)."""
    if ts > LATEST:
        return float(NEVER) if ts == math.inf else LATEST
    return 0.0 if ts < 0.0 else ts


def _halves(values: list[int]) -> np.ndarray:
    """128-bit values as rows of two 64-bit words, the high one first, at C speed."""
    return np.frombuffer(packed(values, 16), ">u8").astype(np.uint64).reshape(-1, 2)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (``np.unique`` by a sort: its hash table is slower here)."""
    values = np.sort(values)
    keep = np.ones(len(values), bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def _block_table(bounds: np.ndarray, version: int) -> tuple[int, np.ndarray]:
    """A shift and, per block of addresses (about one bound each), the piece holding the
    block's first address, so a lookup bisects only the few bounds inside one block. IPv6
    has one block (a shift of 128): its bounds are bisected whole."""
    if version == 6:
        return 128, np.array([0, len(bounds) - 1], np.int32)
    bits = min(max(len(bounds).bit_length() - 5, 4), 22)
    shift = 32 - bits
    starts = np.arange((1 << bits) + 1, dtype=np.int64) << shift
    return shift, (np.searchsorted(bounds, starts, side="right") - 1).astype(np.int32)


def _native(array: np.ndarray) -> memoryview:
    """A memoryview of a column in the native format, which indexing needs (a column read
    from a snapshot says its byte order, and such a view cannot be indexed)."""
    return memoryview(array).cast("B").cast(array.dtype.char)
