"""The registry snapshot: a compiled registry in one checksummed file, loaded without parsing.

A worker or a report started on a large registry should not re-read and
re-validate a CSV or JSON-lines file every time. A snapshot holds the
registry's state as :meth:`Registry.to_state` gives it: a small MessagePack
header (version, categories, counts), a MessagePack section of details
(entities, prefixes as text, the few times not given as epoch floats), one
section per grant column, the compiled index of each address family (numpy
bytes, read back with ``np.frombuffer``) and the bit sets in their own
snapshot format, all in the container every policysim snapshot uses (magic,
kind, format version, CRC-32). Loading checks the checksum and wraps the
arrays: the registry answers from the stored indexes at once, and makes its
per-grant objects from the columns only when a change, ``explain`` or a
listing needs them. A truncated or corrupted file fails the checksum and is
refused whole.
"""

from __future__ import annotations

import os

import msgspec
import numpy as np

from policysim.policies import ipset_file, registry_index
from policysim.policies.registry import STATE_COLUMNS, Registry, RegistryState, gc_paused

KIND = b"REGS"
VERSION = 4
OLD_VERSIONS = (1, 2, 3)  # refused with a sentence: compiling again is quick
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
# header, details, the grant columns, each family's index columns, then the bit sets
_FIXED = 2 + len(STATE_COLUMNS) + len(_FAMILIES) * len(registry_index.COLUMNS)
_encoder = msgspec.msgpack.Encoder()
_meta_decoder = msgspec.msgpack.Decoder(dict)


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
        indexes = [
            array.astype(registry_index.dtype(version, name)).tobytes()
            for version in _FAMILIES
            for name, array in _index_columns(state.indexes[version]).items()
        ]
        sections = [_encoder.encode(header), _encoder.encode(state.details())]
        return ipset_file.pack(KIND, VERSION, [*sections, *columns, *indexes, *state.sets])


def _index_columns(index: registry_index.GrantIndex | None) -> dict[str, np.ndarray]:
    if index is None:
        return {name: np.empty(0, np.uint8) for name in registry_index.COLUMNS}
    return index.columns()


def from_bytes(data: bytes) -> Registry:
    """The registry in ``data``; :class:`~policysim.policies.ipset_file.SnapshotError` when the
    container is damaged or of an older format."""
    version, sections = ipset_file.unpack(data, KIND, (VERSION, *OLD_VERSIONS))
    if version != VERSION:
        raise ipset_file.SnapshotError(
            f"the snapshot is in format {version}, written by an older policysim, and this one"
            f" reads format {VERSION}"
        )
    if len(sections) < _FIXED + 1:
        raise ipset_file.SnapshotError(f"registry snapshot has only {len(sections)} sections")
    with gc_paused():
        return _registry(sections)


def _registry(sections: list[memoryview]) -> Registry:
    try:
        header = _meta_decoder.decode(sections[0])
        arrays = {
            name: np.frombuffer(section, dtype=_DTYPES[name])
            for name, section in zip(STATE_COLUMNS, sections[2:], strict=False)
        }
        sizes = {len(array) for array in arrays.values()}
        if len(sizes) != 1 or len(sections) != _FIXED + 1 + len(header["categories"]):
            raise ValueError("its columns or sets do not fit together")
        at = 2 + len(STATE_COLUMNS)
        indexes = {}
        for version, present in zip(_FAMILIES, header["indexes"], strict=True):
            names = registry_index.COLUMNS
            chunk = sections[at : at + len(names)]
            at += len(names)
            columns = {
                name: np.frombuffer(section, dtype=registry_index.dtype(version, name))
                for name, section in zip(names, chunk, strict=True)
            }
            indexes[version] = (
                registry_index.GrantIndex.from_columns(version, columns) if present else None
            )
        details = sections[1]
        state = RegistryState(
            header, lambda: _meta_decoder.decode(details), arrays, sections[_FIXED:], indexes
        )
        return Registry.from_state(state)
    except ipset_file.SnapshotError:
        raise
    except (msgspec.DecodeError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ipset_file.SnapshotError(f"registry snapshot content unreadable: {exc}") from None


def save(registry: Registry, path: str | os.PathLike[str]) -> None:
    with open(path, "wb") as handle:
        handle.write(to_bytes(registry))


def load(path: str | os.PathLike[str]) -> Registry:
    with open(path, "rb") as handle:
        return from_bytes(handle.read())
