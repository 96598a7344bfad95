"""A small versioned container with a checksum, for snapshots of sets.

Layout (little-endian)::

    magic   4 bytes  b"PSIM"
    kind    4 bytes  what the sections hold, e.g. b"ISET"
    version u16      format version of that kind
    count   u16      number of sections
    count x (u64 length, bytes)
    crc32   u32      zlib.crc32 of everything before it

The payload sections are opaque here (an IP set puts roaring's portable
serialization in one of them), so loading is a checksum and a few slices.
"""

from __future__ import annotations

import struct
import zlib

MAGIC = b"PSIM"
_HEADER = struct.Struct("<4s4sHH")
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")


class SnapshotError(ValueError):
    """A snapshot that is truncated, corrupted, of another kind or of an unknown version."""


def pack(kind: bytes, version: int, sections: list[bytes]) -> bytes:
    """Frame ``sections`` as one checksummed blob."""
    parts = [_HEADER.pack(MAGIC, kind, version, len(sections))]
    for section in sections:
        parts.append(_LENGTH.pack(len(section)))
        parts.append(section)
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def unpack(data: bytes, kind: bytes, versions: tuple[int, ...]) -> tuple[int, list[memoryview]]:
    """Check and split a blob made by :func:`pack`; returns (format version, sections)."""
    view = memoryview(data)
    if len(view) < _HEADER.size + _CRC.size:
        raise SnapshotError(f"snapshot truncated: {len(view)} bytes")
    magic, got_kind, version, count = _HEADER.unpack_from(view)
    if magic != MAGIC:
        raise SnapshotError("not a policysim snapshot (bad magic)")
    if got_kind != kind:
        raise SnapshotError(f"snapshot holds {got_kind!r}, expected {kind!r}")
    if version not in versions:
        raise SnapshotError(f"snapshot format version {version} is not one of {versions}")
    (crc,) = _CRC.unpack_from(view, len(view) - _CRC.size)
    if zlib.crc32(view[: len(view) - _CRC.size]) != crc:
        raise SnapshotError("snapshot checksum mismatch (corrupted or truncated)")
    sections = []
    offset = _HEADER.size
    limit = len(view) - _CRC.size
    for _ in range(count):
        if offset + _LENGTH.size > limit:
            raise SnapshotError("snapshot section table truncated")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += _LENGTH.size
        if offset + length > limit:
            raise SnapshotError("snapshot section truncated")
        sections.append(view[offset : offset + length])
        offset += length
    if offset != limit:
        raise SnapshotError("snapshot has trailing bytes")
    return version, sections
