"""Inputs that once broke the event decoder or slipped through it: fixed regression cases.

Shared by the decoder's fuzz tests and the stream's accounting tests.
"""

from __future__ import annotations

import orjson


def good_event(i: int = 0, prefix: str = "good") -> dict:
    """A valid event (a VPN connection from a registered or unregistered source)."""
    return {
        "id": f"{prefix}{i}",
        "ts": 1733000400 + i,
        "src": ("39.40.1.9", "10.0.0.1", "2400:adc0::5")[i % 3],
        "sport": 5000 + i % 100,
        "dst": "198.51.100.7",
        "dport": 51820,
        "proto": "udp",
        "app": "wireguard",
    }


GOOD = orjson.dumps(good_event())
BIG = GOOD.replace(b'"good0"', b'"big","pad":"' + b"x" * 5000 + b'"')

HOSTILE: tuple[bytes, ...] = (
    GOOD.replace(b'"good0"', b'"\xff\xfe"'),  # invalid UTF-8 inside a string
    b'{"a":' * 10_000 + b"1" + b"}" * 10_000,  # 10,000-deep object
    b"[" * 30_000 + b"]" * 30_000,  # 30,000-deep list
    b"[" + GOOD + b',{"id":"n","ts":NaN}]',  # an envelope with one NaN item
    b"[" + GOOD + b",NaN]",
    b"[]",
    b"",
    b"not json",
    GOOD.replace(b"1733000400", b'"NaN"'),
    GOOD.replace(b"1733000400", b'"inf"'),
    GOOD.replace(b"1733000400", b"1e400"),  # infinity as a number
    GOOD.replace(b"1733000400", b"1e20"),
    GOOD.replace(b"1733000400", b"-1e18"),
    GOOD.replace(b"39.40.1.9", b"fe80::1%eth0"),
    GOOD.replace(b'"udp"', b'""'),
    GOOD.replace(b'"good0"', b'"go\\u0000od"'),
    b"[" + GOOD + b"," + BIG + b"]",  # one oversized item in an envelope
)
