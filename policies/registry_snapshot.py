"""The registry snapshot: a compiled registry in one checksummed file, loaded without parsing.

A worker or a report started on a large registry should not re-read and
re-validate a CSV or JSON-lines file every time. A snapshot holds the
registry's records (as :meth:`Registry.records` gives them, so a registry
written and loaded back answers every as-of-time question the same way) in
MessagePack, and the registry version, in the container every policysim
snapshot uses (magic, kind, format version, CRC-32). A truncated or
corrupted file fails the checksum and is refused whole.
"""

from __future__ import annotations

import os

import msgspec

from policysim.policies import ipset_file
from policysim.policies.registry import Registry, RegistryRecord

KIND = b"REGS"
VERSION = 1
SUFFIX = ".registry"  # what ``policysim registry compile`` suggests; content decides

_header_decoder = msgspec.msgpack.Decoder(dict[str, int])
_records_decoder = msgspec.msgpack.Decoder(list[RegistryRecord])
_encoder = msgspec.msgpack.Encoder()


def is_snapshot(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts like a policysim snapshot (any kind)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(ipset_file.MAGIC)) == ipset_file.MAGIC
    except OSError:
        return False


def to_bytes(registry: Registry) -> bytes:
    header = _encoder.encode({"version": registry.version})
    return ipset_file.pack(KIND, VERSION, [header, _encoder.encode(list(registry.records()))])


def from_bytes(data: bytes) -> Registry:
    """The registry in ``data``; :class:`~policysim.policies.ipset_file.SnapshotError` when the
    container is damaged and ``ValueError`` when a record in it is refused."""
    _, sections = ipset_file.unpack(data, KIND, (VERSION,))
    if len(sections) != 2:
        raise ipset_file.SnapshotError(f"registry snapshot has {len(sections)} sections, not 2")
    try:
        header = _header_decoder.decode(sections[0])
        records = _records_decoder.decode(sections[1])
    except msgspec.DecodeError as exc:
        raise ipset_file.SnapshotError(f"registry snapshot content unreadable: {exc}") from None
    registry = Registry()
    with registry.bulk():
        for record in records:
            registry.apply(record)
    registry.version = header.get("version", registry.version)
    return registry


def save(registry: Registry, path: str | os.PathLike[str]) -> None:
    with open(path, "wb") as handle:
        handle.write(to_bytes(registry))


def load(path: str | os.PathLike[str]) -> Registry:
    with open(path, "rb") as handle:
        return from_bytes(handle.read())
