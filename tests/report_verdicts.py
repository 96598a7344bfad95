"""Synthetic verdict files for the report tests, built straight from the Verdict model.

A tiny deadline world: entities of a few categories register at known
times, households and freelancers use VPNs or not, and three toy policies
(enforced "deadline", shadows "strict" and "lenient") decide by simple rules,
so the report can be checked against numbers recomputed independently.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from policysim.policies.model import Truth, Verdict, encode

TIMEZONE = "Asia/Karachi"
START = 1732042800.0  # 2024-11-20 00:00 Asia/Karachi
DEADLINE = START + 3 * 86400
DAYS = 5
VPN_APPS = ("wireguard", "openvpn", "ipsec")
OTHER_APPS = ("https", "quic", "dns")
CATEGORIES = ("it_company", "freelancer", "bank", "call_center")
POLICIES = ("deadline", "strict", "lenient")


def _world(rng: random.Random) -> list[dict]:
    sources = []
    for k in range(40):
        category = CATEGORIES[k % len(CATEGORIES)]
        registers = rng.random() < 0.7
        sources.append(
            {
                "src": f"10.{k // 10}.{k}.{rng.randrange(1, 250)}",
                "entity": f"e{k:03d}",
                "category": category,
                "registered_at": START + rng.uniform(0, DAYS * 86400) if registers else None,
                "group": "registered_business" if registers else "unregistered_freelancer",
            }
        )
    for k in range(60):
        v6 = k % 7 == 0
        src = f"2400:cb00:{k:x}::{k + 1:x}" if v6 else f"39.{k % 5}.{k}.{rng.randrange(1, 250)}"
        sources.append(
            {
                "src": src,
                "entity": None,
                "category": None,
                "registered_at": None,
                "group": "household_privacy" if k % 3 == 0 else "household",
            }
        )
    return sources


def _decide(
    policy: str, vpn: bool, registered: bool, ts: float, app: str
) -> tuple[str, str | None]:
    after = ts >= DEADLINE
    if policy == "deadline":
        if vpn and not registered:
            return ("block", "block-unregistered-vpn") if after else ("flag", "flag-grace")
        return "allow", None
    if policy == "strict":
        if vpn and not registered:
            return "block", "block-vpn"
        if app == "quic" and not registered:
            return "flag", "flag-quic"
        return "allow", None
    if vpn and not registered and after:
        return "flag", "flag-after-deadline"
    return "allow", None


def make_verdicts(n_events: int = 3000, seed: int = 7, batch: int = 50) -> list[Verdict]:
    """Verdicts of ``n_events`` events under three policies, in the worker's batch order."""
    return list(iter_verdicts(n_events, seed, batch))


def iter_verdicts(n_events: int, seed: int = 7, batch: int = 50) -> Iterator[Verdict]:
    """The verdicts of :func:`make_verdicts`, one at a time (for the memory test)."""
    rng = random.Random(seed)
    sources = _world(rng)
    batch_rows: list[list[Verdict]] = [[] for _ in POLICIES]
    for i in range(n_events):
        s = rng.choice(sources)
        ts = START + rng.uniform(0, DAYS * 86400)
        vpn = rng.random() < (0.5 if s["group"] != "household" else 0.05)
        app = rng.choice(VPN_APPS if vpn else OTHER_APPS)
        registered = s["registered_at"] is not None and ts >= s["registered_at"]
        truth = None
        if i % 37:
            truth = Truth(
                is_vpn=vpn,
                entity_id=s["entity"],
                category=s["category"],
                registered_at_event_time=registered,
                population_group=s["group"],
            )
        dst = f"185.{rng.randrange(3)}.{rng.randrange(4)}.{rng.randrange(1, 250)}"
        for p, policy in enumerate(POLICIES):
            decision, rule = _decide(policy, vpn, registered, ts, app)
            batch_rows[p].append(
                Verdict(
                    id=f"ev{i:06d}",
                    ts=ts,
                    policy=policy,
                    policy_version=1 + p,
                    decision=decision,
                    rule=rule,
                    phase=("after" if ts >= DEADLINE else "grace")
                    if policy == "deadline"
                    else None,
                    registry_version=3,
                    enforced=p == 0,
                    category=s["category"] if registered else None,
                    src=s["src"],
                    dst=dst,
                    app=app,
                    truth=truth,
                )
            )
        if len(batch_rows[0]) == batch or i == n_events - 1:
            for rows in batch_rows:
                yield from rows
                rows.clear()


def write_verdict_file(path: Path, verdicts: list[Verdict]) -> Path:
    path.write_bytes(b"".join(encode(v) + b"\n" for v in verdicts))
    return path
