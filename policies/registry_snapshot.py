"""The registry snapshot: a compiled registry in one checksummed file, loaded without parsing.

A worker or a report started on a large registry should not re-read and
re-validate a CSV or JSON-lines file every time. A snapshot holds the
registry's state as :meth:`Registry.to_state` gives it: one section of
MessagePack (version, categories, entities, prefixes as text and the few
times not given as epoch floats), one section per grant column (numpy bytes,
read back with ``np.frombuffer``) and the bit sets in their own snapshot
format, all in the container every policysim snapshot uses (magic, kind,
format version, CRC-32). Loading builds the registry from those columns
without validating a record again, and a truncated or corrupted file fails
the checksum and is refused whole.
"""

from __future__ import annotations

import os

import msgspec
import numpy as np

from policysim.policies import ipset_file
from policysim.policies.registry import STATE_COLUMNS, Registry, RegistryState, gc_paused

KIND = b"REGS"
VERSION = 2
OLD_VERSIONS = (1,)  # records re-applied on load; refused, compiling again is quick
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
        columns = [state.arrays[name].astype(_DTYPES[name]).tobytes() for name in STATE_COLUMNS]
        return ipset_file.pack(KIND, VERSION, [_encoder.encode(state.meta), *columns, *state.sets])


def from_bytes(data: bytes) -> Registry:
    """The registry in ``data``; :class:`~policysim.policies.ipset_file.SnapshotError` when the
    container is damaged or of an older format."""
    version, sections = ipset_file.unpack(data, KIND, (VERSION, *OLD_VERSIONS))
    if version != VERSION:
        raise ipset_file.SnapshotError(
            f"the snapshot is in format {version}, written by an older policysim, and this one"
            f" reads format {VERSION}"
        )
    if len(sections) < 2 + len(STATE_COLUMNS):
        raise ipset_file.SnapshotError(f"registry snapshot has only {len(sections)} sections")
    try:
        with gc_paused():
            meta = _meta_decoder.decode(sections[0])
        arrays = {
            name: np.frombuffer(section, dtype=_DTYPES[name])
            for name, section in zip(STATE_COLUMNS, sections[1:], strict=False)
        }
        sizes = {len(array) for array in arrays.values()}
        if len(sizes) != 1 or len(sections) != 2 + len(STATE_COLUMNS) + len(meta["categories"]):
            raise ValueError("its columns or sets do not fit together")
        state = RegistryState(meta, arrays, [bytes(s) for s in sections[1 + len(STATE_COLUMNS) :]])
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
