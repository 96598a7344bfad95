"""Engine semantics: first match decides, phases by event time, registry as of event time,
several policies at once, and the batch path always equal to the one-by-one path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.policies.engine import Engine
from policysim.policies.examples import EXAMPLES_DIR as EXAMPLES
from policysim.policies.language import load_policy, parse_policy
from policysim.policies.model import Event, Truth
from policysim.policies.registry import Registry, RegistryRecord

DEADLINE = 1_000_000.0

POLICY = f"""
policy: deadline
version: 7
sets:
  registered: {{registry: {{categories: [freelancer, bank]}}}}
  anyone: {{registry: {{}}}}
  endpoints: {{cidrs: [198.51.100.0/24, "2001:db8::/32"]}}
phases:
  grace: {{until: {DEADLINE}}}
  enforce: {{from: {DEADLINE}, until: {DEADLINE * 2}}}
rules:
  - id: registered
    when: {{src: {{in: registered}}}}
    then: allow
  - id: vpn
    when: {{app: [wireguard, openvpn], src: {{not_in: registered}}}}
    then: {{grace: flag, enforce: block}}
  - id: endpoint
    when: {{dst: {{in: [endpoints]}}, dport: [51820, "500-501"], proto: udp}}
    then: flag
  - id: other-registered
    when: {{src: {{in: anyone}}, sport: "1-1023"}}
    then: block
default: allow
"""


def registry() -> Registry:
    reg = Registry()
    reg.apply(RegistryRecord("F1", "Freelancer", "freelancer", ["39.40.1.0/24"], 500_000.0))
    reg.apply(RegistryRecord("B1", "Bank", "bank", ["2400:adc0::/32"], None, 1_500_000.0))
    reg.apply(RegistryRecord("U1", "Uni", "university", ["111.68.96.0/20"]))
    return reg


def event(src: str, ts: float, app: str | None = "wireguard", **kw: object) -> Event:
    fields = {
        "id": "e",
        "ts": ts,
        "src": src,
        "sport": 40000,
        "dst": "203.0.113.9",
        "dport": 443,
        "proto": "udp",
        "app": app,
    } | kw
    return Event(**fields)


def decide(engine: Engine, ev: Event) -> tuple[str, str | None, str | None]:
    v = engine.evaluate_one(ev)[0]
    assert engine.evaluate([ev])[0][0] == v
    return v.decision, v.rule, v.phase


def test_app_and_proto_match_whatever_their_case() -> None:
    policy = POLICY.replace("app: [wireguard, openvpn]", "app: [WireGuard, OpenVPN]")
    engine = Engine([parse_policy(policy, "p.yaml")], registry())
    for app in ("wireguard", "WIREGUARD", "WireGuard"):
        assert decide(engine, event("39.60.0.1", 10.0, app=app))[1] == "vpn"
    endpoint = event("39.60.0.1", 10.0, app=None, dst="198.51.100.3", dport=500, proto="Udp")
    assert decide(engine, endpoint)[1] == "endpoint"


def test_first_matching_rule_decides_by_phase_and_registry_time() -> None:
    engine = Engine([parse_policy(POLICY, "p.yaml")], registry())
    # Not yet registered at 400k: the freelancer is flagged during grace.
    assert decide(engine, event("39.40.1.2", 400_000.0)) == ("flag", "vpn", "grace")
    assert decide(engine, event("39.40.1.2", 600_000.0)) == ("allow", "registered", "grace")
    assert decide(engine, event("39.60.0.1", DEADLINE)) == ("block", "vpn", "enforce")
    # After the last phase the by-phase rule does not match: the next rule or the default decides.
    assert decide(engine, event("39.60.0.1", DEADLINE * 3)) == ("allow", None, None)
    # The bank's registration expired at 1.5M; IPv4-mapped IPv6 is the IPv4 address.
    assert decide(engine, event("2400:adc0::5", 1_400_000.0)) == ("allow", "registered", "enforce")
    assert decide(engine, event("2400:adc0::5", 1_600_000.0)) == ("block", "vpn", "enforce")
    assert decide(engine, event("::ffff:39.40.1.2", 600_000.0))[1] == "registered"
    # Static sets, port ranges, protocol; an unset app never matches an app list.
    hit = event("39.60.0.1", 10.0, app=None, dst="198.51.100.3", dport=501)
    assert decide(engine, hit) == ("flag", "endpoint", "grace")
    miss = event("39.60.0.1", 10.0, app=None, dst="198.51.100.3", dport=502)
    assert decide(engine, miss)[1] is None
    six = event("39.60.0.1", 10.0, app=None, dst="2001:db8::1", dport=500)
    assert decide(engine, six)[1] == "endpoint"
    tcp = event("39.60.0.1", 10.0, app=None, dst="198.51.100.3", dport=500, proto="TCP")
    assert decide(engine, tcp)[1] is None
    # `registry: {}` means any category; sport range.
    assert decide(engine, event("111.68.99.1", 10.0, app="ssl", sport=80)) == (
        "block",
        "other-registered",
        "grace",
    )


def test_verdicts_carry_the_event_and_the_registry_version() -> None:
    reg = registry()
    truth = Truth(is_vpn=True, entity_id="F1")
    enforced = parse_policy(POLICY, "p.yaml")
    shadow = load_policy(EXAMPLES / "pta-vpn-lenient.yaml")
    engine = Engine([enforced, shadow], reg)
    ev = event("39.40.1.2", 600_000.0, truth=truth)
    batch = engine.evaluate([ev])
    assert [len(per_policy) for per_policy in batch] == [1, 1]
    first, second = batch[0][0], batch[1][0]
    assert (first.policy, first.policy_version, first.enforced) == ("deadline", 7, True)
    assert (second.policy, second.policy_version, second.enforced) == ("pta-vpn-lenient", 1, False)
    assert first.category == "freelancer" and first.truth == truth
    carried = (first.src, first.dst, first.app, first.ts)
    assert carried == ("39.40.1.2", "203.0.113.9", "wireguard", 600_000.0)
    assert first.registry_version == reg.version
    reg.apply(RegistryRecord("F1", revoked_at=550_000.0))
    after = engine.evaluate_one(ev)[0]
    assert after.registry_version == reg.version > first.registry_version
    assert (after.decision, after.rule, after.category) == ("flag", "vpn", None)


def test_replace_policy_swaps_one_policy() -> None:
    engine = Engine([parse_policy(POLICY, "p.yaml")], registry())
    strict = load_policy(EXAMPLES / "pta-vpn-strict.yaml")
    engine.replace_policy(0, strict)
    assert [p.name for p in engine.policies] == ["pta-vpn-strict"]
    verdict = engine.evaluate_one(event("39.60.0.1", 10.0))[0]
    assert (verdict.policy, verdict.decision, verdict.enforced) == ("pta-vpn-strict", "block", True)
    assert engine.evaluate([]) == [[]]


ADDRESSES = st.sampled_from(
    [
        "39.40.1.2",
        "39.40.2.2",
        "::ffff:39.40.1.9",
        "2400:adc0::1",
        "2400:adc1::1",
        "111.68.96.1",
        "198.51.100.200",
        "198.51.100.250",
        "2001:db8::9",
        "203.0.113.9",
        "192.0.2.44",
        "10.0.0.1",
    ]
)
EVENTS = st.builds(
    Event,
    id=st.text(st.characters(blacklist_categories=("Cc",)), min_size=1, max_size=3),
    ts=st.sampled_from(
        [
            0.0,
            499_999.0,
            500_000.0,
            DEADLINE - 1,
            DEADLINE,
            1_500_000.0,
            DEADLINE * 2,
            1_733_000_000.0,
            1_800_000_000.0,
        ]
    ),
    src=ADDRESSES,
    sport=st.sampled_from([0, 80, 1023, 1024, 40000]),
    dst=ADDRESSES,
    dport=st.sampled_from([443, 499, 500, 501, 502, 1194, 4500, 51820]),
    proto=st.sampled_from(["udp", "tcp", "icmp"]),
    app=st.sampled_from([None, "wireguard", "openvpn", "ipsec", "ssl", "dns"]),
)
POLICIES = [parse_policy(POLICY, "p.yaml")] + [
    load_policy(p) for p in sorted(EXAMPLES.glob("*.yaml"))
]
REGISTRY = registry()
REGISTRY.apply(RegistryRecord("F2", "Other", "freelancer", ["39.40.1.0/24"], 1_000_000.0))


@settings(max_examples=150, deadline=None)
@given(st.lists(EVENTS, max_size=40))
def test_batch_path_equals_one_by_one(events: list[Event]) -> None:
    engine = Engine(POLICIES, REGISTRY)
    batch = engine.evaluate_arrays(events)
    assert len(batch) == len(POLICIES)
    assert engine.evaluate(events) == batch  # event by event below SCALAR_BELOW, else arrays
    one_by_one = [engine.evaluate_one(e) for e in events]
    for p in range(len(POLICIES)):
        assert batch[p] == [verdicts[p] for verdicts in one_by_one]
