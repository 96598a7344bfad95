"""The registry snapshot: a compiled registry in one checksummed file, loaded without parsing.

A worker or a report started on a large registry should not re-read and
re-validate a CSV or JSON-lines file every time. A snapshot holds the
registry's state as :meth:`Registry.to_state` gives it: a small MessagePack
header (version, categories, counts), a MessagePack section of details
(entities, prefixes as text, the few times not given as epoch floats), one
section per grant column, the compiled index of each address family (numpy
bytes, read back with ``np.frombuffer``) and the bit sets in their own
snapshot format, all in the container every policysim snapshot uses (magic,
kind, format version, CRC-32). Loading checks the checksum of the whole file
and reads the indexes only: the registry answers from them at once, reads a
bit set when a batch or a category filter first needs it, and reads the grant
columns and details (to make its per-grant objects) only when a change,
``explain`` or a listing needs them; until then they take no memory. A
truncated or corrupted file fails the checksum and is refused whole.
"""

from __future__ import annotations

import os
import tempfile
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence

import msgspec
import numpy as np

from policysim.policies import ipset_file, registry_index
from policysim.policies.registry import STATE_COLUMNS, Registry, RegistryState, gc_paused

KIND = b"REGS"
VERSION = 6
OLD_VERSIONS = (1, 2, 3, 4, 5)  # refused with a sentence: compiling again is quick
SUFFIX = ".registry"  # what ``policysim registry compile`` suggests; content decides

_DTYPES = {
    "entity": "<i4",
    "category": "<i4",
    "family": "u1",
    "length": "u1",
    "high": "<u8",
    "low": "<u8",
    "start": "<f8",
    "expires": "<f8",
    "revoked": "<f8",
    "until": "<f8",
    "raw": "u1",
}
_FAMILIES = (4, 6)
# header, details, the entities (a MessagePack array, where each one starts, their numbers in
# id order), the grant columns, each family's index columns, then the bit sets
_ENTITIES = 2
_COLUMNS_AT = 5
_FIXED = _COLUMNS_AT + len(STATE_COLUMNS) + len(_FAMILIES) * len(registry_index.COLUMNS)
_OFFSET, _NUMBER = np.dtype("<u8"), np.dtype("<i4")
_encoder = msgspec.msgpack.Encoder()
_meta_decoder = msgspec.msgpack.Decoder(dict)
_list_decoder = msgspec.msgpack.Decoder(list)


def is_snapshot(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts like a policysim snapshot (any kind)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(ipset_file.MAGIC)) == ipset_file.MAGIC
    except OSError:
        return False


def to_bytes(registry: Registry) -> bytes:
    with gc_paused():
        state = registry.to_state()
        header = {**state.header, "indexes": [state.indexes[v] is not None for v in _FAMILIES]}
        columns = [state.arrays[name].astype(_DTYPES[name]).tobytes() for name in STATE_COLUMNS]
        indexes = [section for version in _FAMILIES for section in _index(state, version)]
        details = dict(state.details())
        entities = _entity_sections(details.pop("entities"))
        sections = [_encoder.encode(header), _encoder.encode(details), *entities]
        return ipset_file.pack(KIND, VERSION, [*sections, *columns, *indexes, *state.sets])


def _entity_sections(entities: list) -> list[bytes]:
    """The entities as one MessagePack array, where each one starts in it (and where it
    ends), and their numbers in id order: a change reads one entity, found by a bisection."""
    parts = [_encoder.encode(entity) for entity in entities]
    head = _array_head(len(parts))
    starts = len(head) + np.cumsum([0, *map(len, parts)], dtype=np.int64)
    ids = [entity[0] for entity in entities]
    by_id = sorted(range(len(ids)), key=ids.__getitem__)
    return [
        head + b"".join(parts),
        np.asarray(starts, _OFFSET).tobytes(),
        np.asarray(by_id, _NUMBER).tobytes(),
    ]


def _array_head(count: int) -> bytes:
    """The MessagePack header of an array of ``count`` items."""
    if count < 16:
        return bytes([0x90 | count])
    if count < 1 << 16:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def _index(state: RegistryState, version: int) -> list[bytes]:
    """The sections of one family's index (empty ones when it has none)."""
    index = state.indexes[version]
    if index is None:
        return [b""] * len(registry_index.COLUMNS)
    columns = index.columns()
    return [
        array.astype(registry_index.dtype(version, name, columns["shape"])).tobytes()
        for name, array in columns.items()
    ]


def from_bytes(data: bytes) -> Registry:
    """The registry in ``data``; :class:`~policysim.policies.ipset_file.SnapshotError` when the
    container is damaged or of an older format."""
    version, views = ipset_file.unpack(data, KIND, (VERSION, *OLD_VERSIONS))
    return _loaded(version, [ipset_file.Section.of(view) for view in views])


def load(path: str | os.PathLike[str]) -> Registry:
    """The registry in the snapshot file at ``path``. Only its index is read into memory; its
    bit sets, grant columns and details are read from the file when first needed (see
    :func:`~policysim.policies.ipset_file.open_sections`)."""
    version, sections = ipset_file.open_sections(path, KIND, (VERSION, *OLD_VERSIONS))
    return _loaded(version, sections)


def _loaded(version: int, sections: list[ipset_file.Section]) -> Registry:
    if version != VERSION:
        raise ipset_file.SnapshotError(
            f"the snapshot is in format {version}, written by an older policysim, and this one"
            f" reads format {VERSION}"
        )
    if len(sections) < _FIXED + 1:
        raise ipset_file.SnapshotError(f"registry snapshot has only {len(sections)} sections")
    with gc_paused():
        return _registry(sections)


def _registry(sections: list[ipset_file.Section]) -> Registry:
    try:
        header = _meta_decoder.decode(sections[0].read())
        stored = dict(zip(STATE_COLUMNS, sections[_COLUMNS_AT:], strict=False))
        rows = {stored[name].size / np.dtype(_DTYPES[name]).itemsize for name in STATE_COLUMNS}
        entities = _StoredEntities(*sections[_ENTITIES:_COLUMNS_AT])
        if (
            len(rows) != 1
            or len(sections) != _FIXED + 1 + len(header["categories"])
            or entities.count != header["counts"]["entities"]
        ):
            raise ValueError("its columns or sets do not fit together")
        at = _COLUMNS_AT + len(STATE_COLUMNS)
        indexes = {}
        for version, present in zip(_FAMILIES, header["indexes"], strict=True):
            chunk = sections[at : at + len(registry_index.COLUMNS)]
            at += len(chunk)
            indexes[version] = _read_index(version, chunk) if present else None
        details = sections[1]
        columns = _StoredColumns(stored)
        state = RegistryState(
            header,
            lambda: {**_meta_decoder.decode(details.read()), "entities": entities.all()},
            columns,
            _StoredSets(sections[_FIXED:]),
            indexes,
            (columns, entities),
        )
        return Registry.from_state(state)
    except ipset_file.SnapshotError:
        raise
    except (msgspec.DecodeError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ipset_file.SnapshotError(f"registry snapshot content unreadable: {exc}") from None


def _read_index(version: int, sections: list[ipset_file.Section]) -> registry_index.GrantIndex:
    """One family's index, read now (lookups need all of it); its shape first, which says the
    other columns' dtypes."""
    shape = np.frombuffer(sections[0].read(), dtype=registry_index.DTYPES["shape"])
    columns = {
        name: np.frombuffer(section.read(), dtype=registry_index.dtype(version, name, shape))
        for name, section in zip(registry_index.COLUMNS[1:], sections[1:], strict=True)
    }
    return registry_index.GrantIndex.from_columns(version, {"shape": shape, **columns})


class _StoredColumns(Mapping[str, np.ndarray]):
    """A snapshot's grant columns, read from it on first use (a change, ``explain``, a listing
    or a new snapshot: lookups never need them)."""

    def __init__(self, sections: dict[str, ipset_file.Section]) -> None:
        self._sections = sections
        self._arrays: dict[str, np.ndarray] | None = None
        self.size = sections["entity"].size // np.dtype(_DTYPES["entity"]).itemsize

    def _read(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = {name: self.column(name) for name in self._sections}
        return self._arrays

    def column(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """A column's rows from ``start`` to ``stop``, read now unless the columns were (and
        not kept)."""
        if self._arrays is not None:
            return self._arrays[name][start:stop]
        dtype = np.dtype(_DTYPES[name])
        stop = self.size if stop is None else stop
        data = self._sections[name].read(start * dtype.itemsize, stop * dtype.itemsize)
        return np.frombuffer(data, dtype)

    def row(self, row: int) -> tuple:
        """One row's values, read from the file unless the columns were."""
        return tuple(self.value(name, row) for name in STATE_COLUMNS)

    def value(self, name: str, row: int) -> int | float:
        """One value, read from the file unless the columns were."""
        return self.column(name, row, row + 1)[0].item()

    def __getitem__(self, name: str) -> np.ndarray:
        return self._read()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sections)

    def __len__(self) -> int:
        return len(self._sections)


class _StoredEntities:
    """A snapshot's entities, read from the file one at a time: where each starts and their
    order by id too, so a lookup by id (a bisection) reads about twenty of them and the
    process holds none."""

    def __init__(self, rows: ipset_file.Section, starts: ipset_file.Section,
                 by_id: ipset_file.Section) -> None:  # fmt: skip
        self._rows, self._starts_section, self._by_id_section = rows, starts, by_id
        self.count = by_id.size // _NUMBER.itemsize
        if starts.size != (self.count + 1) * _OFFSET.itemsize or by_id.size % _NUMBER.itemsize:
            raise ValueError("its entity sections do not fit together")

    def all(self) -> list:
        """Every entity, ``[id, name, category, revocations]`` by number."""
        return _list_decoder.decode(self._rows.read())

    def entity(self, number: int) -> tuple:
        size = _OFFSET.itemsize
        bounds = self._starts_section.read(number * size, (number + 2) * size)
        start, end = np.frombuffer(bounds, _OFFSET).tolist()
        return tuple(_list_decoder.decode(self._rows.read(start, end)))

    def number(self, entity_id: str) -> int | None:
        at = bisect_left(range(self.count), entity_id, key=lambda at: self._id_at(at))
        if at < self.count and self._id_at(at) == entity_id:
            return self._number_at(at)
        return None

    def _number_at(self, at: int) -> int:
        """The number of the entity at place ``at`` in id order."""
        size = _NUMBER.itemsize
        return int(np.frombuffer(self._by_id_section.read(at * size, (at + 1) * size), _NUMBER)[0])

    def _id_at(self, at: int) -> str:
        return self.entity(self._number_at(at))[0]


class _StoredSets(Sequence[bytes]):
    """A snapshot's bit sets, each read from it when asked for."""

    def __init__(self, sections: list[ipset_file.Section]) -> None:
        self._sections = sections

    def __getitem__(self, at: int) -> bytes:  # type: ignore[override]
        return self._sections[at].read()

    def __len__(self) -> int:
        return len(self._sections)


def save(registry: Registry, path: str | os.PathLike[str]) -> None:
    """Write the snapshot beside ``path`` and rename it over ``path``: a process that loaded
    the old file keeps reading its own (see :func:`load`), and a failed write leaves the old
    file as it was."""
    data = to_bytes(registry)
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".policysim-", delete=False) as handle:
        try:
            handle.write(data)
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
    os.replace(handle.name, path)
