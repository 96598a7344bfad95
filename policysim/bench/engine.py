"""``policysim bench engine``: full policy evaluation of already-parsed events.

The target is at least 250,000 events/s on one core in batch mode
for a policy of three rules over two sets (a registry set answered as of
event time and a static set). This builds a seeded registry and event batch,
then times :meth:`Engine.evaluate` at several batch sizes (the worker's
envelopes are batches) next to :meth:`Engine.evaluate_one`, the per-event
path, and a two-policy run (enforced + shadow).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence

from policysim.app.errors import BadInput
from policysim.base.settings import Settings
from policysim.base.vocabulary import CATEGORIES
from policysim.bench.checks import at_least
from policysim.policies.addresses import format_ip
from policysim.policies.engine import Engine
from policysim.policies.language import Policy, parse_policy
from policysim.policies.model import Event
from policysim.policies.registry import Registry, RegistryRecord

TARGET_EVENTS_PER_S = 250_000
MAX_PREFIXES = 1 << 24  # the registry's IPv4 /24s are drawn without repetition
START = 1_730_000_000.0  # 2024-10-27, before the phases' boundary
SPAN = 60 * 86_400.0
DEADLINE = 1_733_000_000.0
APPS = ("wireguard", "openvpn", "ssl", "dns", "http", None)

POLICY = """
policy: bench
version: 1
sets:
  registered: {registry: {categories: [it_company, software_house, freelancer, bank, call_center]}}
  vpn_endpoints: {cidrs: [%(endpoints)s]}
phases:
  grace: {until: %(deadline)s}
  enforce: {from: %(deadline)s}
rules:
  - id: registered-source
    when: {src: {in: registered}}
    then: allow
  - id: unregistered-vpn
    when: {app: [wireguard, openvpn, ipsec], src: {not_in: registered}}
    then: {grace: flag, enforce: block}
  - id: vpn-endpoint
    when: {dst: {in: vpn_endpoints}, dport: [51820, 1194, "500-501"], proto: [udp, tcp]}
    then: flag
default: allow
"""


def build(prefixes: int, events: int, seed: int) -> tuple[Registry, Policy, list[Event]]:
    """A seeded registry (IPv4 /24s and IPv6 /48s), the bench policy and events."""
    rng = random.Random(seed)
    registry = Registry()
    nets4 = rng.sample(range(1 << 24), prefixes)
    for i, net in enumerate(nets4):
        registered = START + rng.random() * SPAN
        expires = registered + SPAN if rng.random() < 0.1 else None
        v6 = i % 10 == 0
        prefix = f"2400:{i:x}:{net & 0xFFFF:x}::/48" if v6 else f"{format_ip((4, net << 8))}/24"
        registry.apply(
            RegistryRecord(f"E{i}", None, rng.choice(CATEGORIES), [prefix], registered, expires)
        )
    endpoints = [format_ip((4, rng.getrandbits(32))) for _ in range(2000)]
    text = POLICY % {"endpoints": ", ".join(endpoints), "deadline": DEADLINE}
    policy = parse_policy(text, "<bench>")
    out = []
    for i in range(events):
        if rng.random() < 0.5:
            src = format_ip((4, (rng.choice(nets4) << 8) | rng.getrandbits(8)))
        else:
            src = format_ip((4, rng.getrandbits(32)))
        dst = rng.choice(endpoints) if rng.random() < 0.1 else format_ip((4, rng.getrandbits(32)))
        out.append(
            Event(
                id=f"e{i}",
                ts=START + rng.random() * SPAN,
                src=src,
                sport=rng.randrange(1024, 65536),
                dst=dst,
                dport=rng.choice((443, 53, 51820, 1194, 500, 80)),
                proto=rng.choice(("tcp", "udp")),
                app=rng.choice(APPS),
            )
        )
    return registry, policy, out


def _rate(work: Callable[[], None], count: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return count / statistics.median(times)


def _batched(engine: Engine, events: Sequence[Event], size: int) -> Callable[[], None]:
    def work() -> None:
        for i in range(0, len(events), size):
            engine.evaluate(events[i : i + size])

    return work


def measure(events: int, prefixes: int, repeat: int, seed: int) -> dict:
    """All figures as one JSON-ready dict."""
    registry, policy, batch = build(prefixes, events, seed)
    one = Engine([policy], registry)
    two = Engine([policy, policy], registry)
    rows = []
    for size in (100, 1000, 10_000):
        rate = _rate(_batched(one, batch, size), len(batch), repeat)
        rows.append({"mode": "batch", "policies": 1, "batch": size, "events_per_s": rate})
    rate = _rate(_batched(two, batch, 1000), len(batch), repeat)
    rows.append({"mode": "batch", "policies": 2, "batch": 1000, "events_per_s": rate})
    sample = batch[: max(1, len(batch) // 10)]

    def per_event() -> None:
        for event in sample:
            one.evaluate_one(event)

    rows.append(
        {"mode": "per event", "policies": 1, "batch": 1,
         "events_per_s": _rate(per_event, len(sample), repeat)}
    )  # fmt: skip
    best = max(r["events_per_s"] for r in rows if r["policies"] == 1)
    return {
        "events": len(batch),
        "registry_prefixes": prefixes,
        "rules": len(policy.rules),
        "sets": len(policy.sets),
        "results": rows,
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "best_batch_events_per_s": best,
        "meets_target": best >= TARGET_EVENTS_PER_S,
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    at_least(args, 1, "--count", "--prefixes", "--repeat")
    if args.prefixes > MAX_PREFIXES:
        raise BadInput(f"--prefixes {args.prefixes}: at most {MAX_PREFIXES:,} distinct /24s")
    figures = measure(args.count, args.prefixes, args.repeat, args.seed)
    if args.format == "json":
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"policy evaluation: {figures['rules']} rules, {figures['sets']} sets (registry as of"
        f" event time + static), {figures['registry_prefixes']} registry prefixes,"
        f" {figures['events']} events"
    )
    print(f"{'mode':<10} {'policies':>8} {'batch':>6} {'events/s':>12}")
    for r in figures["results"]:
        print(f"{r['mode']:<10} {r['policies']:>8} {r['batch']:>6} {r['events_per_s']:>12,.0f}")
    verdict = "meets" if figures["meets_target"] else "misses"
    print(f"best batch rate {figures['best_batch_events_per_s']:,.0f}/s {verdict} the target"
          f" of {TARGET_EVENTS_PER_S:,}/s")  # fmt: skip
    return 0
