"""IP address text to integers, fast, with IPv4-mapped IPv6 folded into IPv4.

The hot path parses two addresses per event, so this avoids
:mod:`ipaddress` objects (about ten times slower than ``inet_pton``) while
agreeing with :mod:`ipaddress` on what is valid. An address is a pair
``(version, value)``: ``(4, 0..2**32-1)`` or ``(6, 0..2**128-1)``.
"""

from __future__ import annotations

import socket

IP = tuple[int, int]

_V4_MAPPED = 0xFFFF << 32
_V4_MAPPED_MASK = ((1 << 96) - 1) << 32


def parse_ip(text: str) -> IP:
    """Parse an IPv4 or IPv6 address; ``::ffff:a.b.c.d`` becomes IPv4.

    Raises ``ValueError`` naming the text when it is not an address.
    """
    if ":" in text:
        bare = text.partition("%")[0]
        try:
            value = int.from_bytes(socket.inet_pton(socket.AF_INET6, bare))
        except (OSError, ValueError):
            raise ValueError(f"not an IP address: {text!r}") from None
        if value & _V4_MAPPED_MASK == _V4_MAPPED:
            return 4, value & 0xFFFFFFFF
        return 6, value
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        raise ValueError(f"not an IP address: {text!r}") from None
    return 4, int.from_bytes(packed)


def format_ip(ip: IP) -> str:
    """The canonical text of an address (compressed IPv6, dotted IPv4)."""
    version, value = ip
    if version == 4:
        return socket.inet_ntop(socket.AF_INET, value.to_bytes(4))
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16))
