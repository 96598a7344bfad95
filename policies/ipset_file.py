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

import os
import struct
import zlib
from collections.abc import Callable
from typing import BinaryIO, NamedTuple

MAGIC = b"PSIM"
_HEADER = struct.Struct("<4s4sHH")
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")


class SnapshotError(ValueError):
    """A snapshot that is truncated, corrupted, of another kind or of an unknown version."""


class Section(NamedTuple):
    """One section of a snapshot: its size in bytes and how to read a part of it."""

    size: int
    read_part: Callable[[int, int], bytes | memoryview]  # (start, stop) within the section

    def read(self, start: int = 0, stop: int | None = None) -> bytes | memoryview:
        """The section's bytes, or those from ``start`` to ``stop``."""
        return self.read_part(start, self.size if stop is None else stop)

    @classmethod
    def of(cls, data: bytes | memoryview) -> Section:
        """A section held in memory."""
        return cls(len(data), lambda start, stop: data[start:stop])


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
    crc = zlib.crc32(view[: max(0, len(view) - _CRC.size)])
    version, places = _layout(len(view), lambda at, n: view[at : at + n], kind, versions, crc)
    return version, [view[at : at + n] for at, n in places]


def open_sections(
    path: str | os.PathLike[str], kind: bytes, versions: tuple[int, ...]
) -> tuple[int, list[Section]]:
    """Check a snapshot file whole, then return its format version and its sections, each
    read from the file when its ``read`` is called.

    A large snapshot's sections are not all needed at once (a registry answers lookups from
    its index and reads its grant columns only for a change), so they stay on disk until
    asked for: the process holds only what it reads. The checksum is computed over the file
    read in chunks. A section read after the file was replaced or rewritten in place is
    refused (the file is held open, so a snapshot renamed over it is not a change).
    """
    handle = open(path, "rb")  # noqa: SIM115 - held open by the readers for their lifetime
    fd = handle.fileno()
    size = os.fstat(fd).st_size
    crc = _file_crc(handle, size - _CRC.size)
    version, places = _layout(size, lambda at, n: os.pread(fd, n, at), kind, versions, crc)
    stamp = _stamp(fd)

    def section(at: int, length: int) -> Section:
        def read(start: int, stop: int) -> bytes:
            start, stop = max(0, min(start, length)), max(0, min(stop, length))
            data = os.pread(handle.fileno(), max(0, stop - start), at + start)
            if len(data) != max(0, stop - start) or _stamp(fd) != stamp:
                raise SnapshotError(
                    f"the snapshot {os.fspath(path)} changed on disk after it was loaded"
                )
            return data

        return Section(length, read)

    return version, [section(at, n) for at, n in places]


def _stamp(fd: int) -> tuple[int, int, int]:
    """What changes when a file is written: its size, modification time and inode."""
    stat = os.fstat(fd)
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _file_crc(handle: BinaryIO, length: int, chunk: int = 1 << 20) -> int:
    """The CRC-32 of the file's first ``length`` bytes, read a chunk at a time."""
    crc, buffer = 0, bytearray(chunk)
    view = memoryview(buffer)
    while length > 0:
        got = handle.readinto(view[: min(chunk, length)])
        if not got:
            break
        crc = zlib.crc32(view[:got], crc)
        length -= got
    return crc


def _layout(
    size: int,
    read: Callable[[int, int], bytes | memoryview],
    kind: bytes,
    versions: tuple[int, ...],
    crc: int,
) -> tuple[int, list[tuple[int, int]]]:
    """The format version and each section's (offset, length) of a container of ``size``
    bytes read through ``read(offset, length)``, after checking it (``crc``: of everything
    before its stored checksum)."""
    if size < _HEADER.size + _CRC.size:
        raise SnapshotError(f"snapshot truncated: {size} bytes")
    magic, got_kind, version, count = _HEADER.unpack(read(0, _HEADER.size))
    if magic != MAGIC:
        raise SnapshotError("not a policysim snapshot (bad magic)")
    if got_kind != kind:
        raise SnapshotError(f"snapshot holds {got_kind!r}, expected {kind!r}")
    if version not in versions:
        raise SnapshotError(f"snapshot format version {version} is not one of {versions}")
    limit = size - _CRC.size
    (stored,) = _CRC.unpack(read(limit, _CRC.size))
    if crc != stored:
        raise SnapshotError("snapshot checksum mismatch (corrupted or truncated)")
    places = []
    offset = _HEADER.size
    for _ in range(count):
        if offset + _LENGTH.size > limit:
            raise SnapshotError("snapshot section table truncated")
        (length,) = _LENGTH.unpack(read(offset, _LENGTH.size))
        offset += _LENGTH.size
        if offset + length > limit:
            raise SnapshotError("snapshot section truncated")
        places.append((offset, length))
        offset += length
    if offset != limit:
        raise SnapshotError("snapshot has trailing bytes")
    return version, places
