"""Hand-made verdicts of a world that fails like the real one, for the report's cause tests.

Every kind of wrong decision the report names has a population here: a
classifier that mislabels VPN transports and takes some web traffic for VPN,
addresses shared behind carrier-grade NAT and registered by one subscriber,
reassigned addresses, registrants on new addresses, remote staff, pending
approvals, categories a policy leaves out, freelancers with a business need
and no registration. Three toy policies decide from what a real one could see
(the label, the destination, the registry's view of the source, the phase).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from policysim.policies.model import Truth, Verdict

START = 1732042800.0  # 2024-11-20 00:00 Asia/Karachi
TRIAL = (START + 86400, START + 86400 + 6 * 3600)  # a six-hour trial window on day 2
DEADLINE = START + 3 * 86400
DAYS = 5
POLICIES = ("deadline", "strict", "lenient")
VPN_LABELS = ("wireguard", "openvpn", "ipsec")
ENDPOINT = "198.51.100.7"
EXEMPT = ("it_company", "freelancer", "bank")  # what the toy policies treat as registered


def _source(rng: random.Random, k: int) -> dict:
    """One subscriber: who they are, their address, and what truth says about them."""
    kind = rng.choice(
        ("household", "privacy", "cgnat_privacy", "reassigned", "freelancer", "pending",
         "staff", "staff_moved", "staff_remote", "staff_personal", "university", "cgnat_freelancer")
    )  # fmt: skip
    entity = None if kind in ("household", "privacy", "cgnat_privacy", "reassigned") else f"e{k}"
    category = {
        "freelancer": "freelancer",
        "pending": "freelancer",
        "cgnat_freelancer": "freelancer",
        "university": "university",
    }.get(kind, "it_company" if entity else None)
    src = f"2400:cb00:{k:x}::1" if k % 9 == 0 else f"39.{k % 7}.{k % 250}.{1 + k % 200}"
    return {"kind": kind, "entity": entity, "category": category, "src": src}


def _truth(rng: random.Random, s: dict, ts: float) -> Truth:
    kind = s["kind"]
    vpn = kind not in ("household",) and rng.random() < 0.8
    true_app = rng.choice(("wireguard", "openvpn", "shadowsocks")) if vpn else "https"
    registered = kind in ("staff", "staff_moved", "staff_remote", "staff_personal", "university")
    address = {
        "cgnat_privacy": True,
        "reassigned": True,
        "staff_moved": False,
        "staff_remote": False,
        "cgnat_freelancer": rng.random() < 0.5,
    }.get(kind)
    business = None
    if vpn and kind in ("freelancer", "pending", "cgnat_freelancer", "staff_remote"):
        business = True
    elif vpn and kind in ("privacy", "cgnat_privacy", "reassigned", "staff_personal"):
        business = False
    return Truth(
        is_vpn=vpn,
        entity_id=s["entity"],
        category=s["category"],
        registered_at_event_time=registered,
        population_group=kind,
        app=true_app,
        business_use=business,
        subscriber_id=f"sub-{s['src']}",
        address_registered_at_event_time=address,
        shared_by=rng.choice((8, 32)) if kind.startswith("cgnat") else None,
        address_changed=kind == "staff_moved",
        remote=kind == "staff_remote",
        registration_pending=kind == "pending" and ts < DEADLINE,
    )


def _label(rng: random.Random, truth: Truth) -> str | None:
    """A classifier: most VPN labelled right, some as ``ssl`` or unlabelled, rare web as VPN."""
    roll = rng.random()
    if truth.is_vpn:
        if truth.app == "shadowsocks":
            return "shadowsocks" if roll < 0.7 else "ssl"
        return truth.app if roll < 0.8 else ("ssl" if roll < 0.95 else None)
    return "openvpn" if roll < 0.03 else "https"


def _seen_registered(truth: Truth) -> tuple[bool, str | None]:
    """The registry's view of the source address: covered, and under which category."""
    covered = truth.address_registered_at_event_time
    if covered is None:
        covered = truth.registered_at_event_time
    if not covered:
        return False, None
    own = truth.registered_at_event_time and truth.category
    return True, own or "it_company"


def _phase(policy: str, ts: float) -> str | None:
    if policy == "deadline":
        return "enforce" if ts >= DEADLINE else "grace"
    if policy == "strict":
        return "trial" if TRIAL[0] <= ts < TRIAL[1] else ("after" if ts >= DEADLINE else None)
    return None


def _decide(policy: str, phase: str | None, covered: bool, category: str | None,
            label: str | None, dst: str) -> tuple[str, str | None]:  # fmt: skip
    if covered and category in EXEMPT:
        return "allow", "registered-source"
    vpn_label = label in VPN_LABELS
    if policy == "deadline":
        if vpn_label:
            return ("block" if phase == "enforce" else "flag"), "unregistered-vpn"
        if dst == ENDPOINT:
            return "flag", "vpn-endpoint"
        return "allow", None
    if policy == "strict":
        if vpn_label or dst == ENDPOINT:
            return ("block" if phase else "flag"), "vpn" if vpn_label else "vpn-endpoint"
        return "allow", None
    if vpn_label:
        return "flag", "unregistered-vpn"
    return "allow", None


def iter_verdicts(
    n_events: int = 3000, seed: int = 5, duplicate_every: int = 0
) -> Iterator[Verdict]:
    """Verdicts of ``n_events`` events under three policies; with ``duplicate_every``, each
    that-many-th event's verdicts come again 40 events later, as after a worker was killed."""
    rng = random.Random(seed)
    sources = [_source(rng, k) for k in range(150)]
    again: dict[int, list[Verdict]] = {}
    for i in range(n_events):
        s = rng.choice(sources)
        ts = START + rng.uniform(0, DAYS * 86400)
        truth = _truth(rng, s, ts)
        label = _label(rng, truth)
        dst = ENDPOINT if rng.random() < 0.1 else f"185.1.{rng.randrange(4)}.{rng.randrange(250)}"
        covered, category = _seen_registered(truth)
        batch = []
        for p, policy in enumerate(POLICIES):
            phase = _phase(policy, ts)
            decision, rule = _decide(policy, phase, covered, category, label, dst)
            batch.append(
                Verdict(
                    id=f"ev{i:06d}", ts=ts, policy=policy, policy_version=1, decision=decision,
                    rule=rule, phase=phase, registry_version=1, enforced=p == 0,
                    category=category, src=s["src"], dst=dst, app=label,
                    truth=truth if i % 29 else None,
                )
            )  # fmt: skip
        yield from batch
        if duplicate_every and i % duplicate_every == 0:
            again[i + 40] = batch
        yield from again.pop(i, [])
    for batch in again.values():
        yield from batch
