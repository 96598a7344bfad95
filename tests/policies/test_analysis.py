"""`policy check` warnings: each one is a proof that a rule can never match."""

from __future__ import annotations

from policysim.policies.examples import EXAMPLES_DIR as EXAMPLES
from policysim.policies.language import load_policy, parse_policy
from policysim.policies.language.analysis import analyse

HEAD = """\
policy: p
version: 1
sets:
  registered: {registry: {categories: [freelancer, bank]}}
  freelancers: {registry: {categories: [freelancer]}}
  anyone: {registry: {}}
  wide: {cidrs: [10.0.0.0/8]}
  narrow: {cidrs: [10.1.0.0/16, 10.2.3.4]}
  elsewhere: {cidrs: [192.0.2.0/24]}
phases:
  grace: {until: 1000}
  enforce: {from: 1000}
default: allow
rules:
"""


def warnings(rules: str) -> list[str]:
    policy = parse_policy(HEAD + rules, "p.yaml")
    return [w.message for w in analyse(policy) if "no rule uses it" not in w.message]


def test_a_rule_inside_an_earlier_one_is_reported_with_its_position() -> None:
    policy = parse_policy(
        HEAD
        + """\
  - id: all-vpn
    when: {app: [wireguard, openvpn]}
    then: flag
  - id: udp-wireguard
    when: {app: wireguard, proto: udp}
    then: block
""",
        "p.yaml",
    )
    found = [str(w) for w in analyse(policy) if "no rule uses it" not in w.message]
    assert found == [
        "p.yaml:18:9: warning: rule 'udp-wireguard' can never match: earlier rule(s) 'all-vpn'"
        " already decide every event it would match"
    ]


def test_complementary_rules_together_shadow_a_later_rule() -> None:
    assert warnings(
        """\
  - id: in
    when: {src: {in: registered}, app: wireguard}
    then: allow
  - id: out
    when: {src: {not_in: registered}}
    then: {grace: flag, enforce: block}
  - id: late
    when: {app: wireguard, dport: 51820}
    then: block
"""
    ) == [
        "rule 'late' can never match: earlier rule(s) 'in', 'out' already decide every event"
        " it would match"
    ]


def test_set_algebra_on_static_sets_and_registry_categories() -> None:
    assert warnings(
        """\
  - id: wide
    when: {dst: {in: wide}}
    then: flag
  - id: narrow
    when: {dst: {in: narrow}, dport: "1-1024"}
    then: block
  - id: any-registered
    when: {src: {in: anyone}}
    then: allow
  - id: freelancer
    when: {src: {in: freelancers}}
    then: block
  - id: outside-wide
    when: {dst: {not_in: wide}}
    then: flag
  - id: elsewhere
    when: {dst: {in: elsewhere}}
    then: block
"""
    ) == [
        "rule 'narrow' can never match: earlier rule(s) 'wide' already decide every event"
        " it would match",
        "rule 'freelancer' can never match: earlier rule(s) 'any-registered' already decide every"
        " event it would match",
        "rule 'elsewhere' can never match: earlier rule(s) 'outside-wide' already decide every"
        " event it would match",
    ]


def test_ports_and_phases() -> None:
    assert warnings(
        """\
  - id: low
    when: {dport: ["0-499", 500]}
    then: flag
  - id: mid
    when: {dport: ["501-1000"]}
    then: {grace: flag}
  - id: inside
    when: {dport: ["400-800"]}
    then: {grace: block}
  - id: spans-enforce
    when: {dport: ["400-800"]}
    then: block
"""
    ) == [
        "rule 'inside' can never match: earlier rule(s) 'low', 'mid' already decide every event"
        " it would match"
    ]


def test_contradictions_and_no_false_alarms() -> None:
    assert warnings(
        """\
  - id: impossible
    when: {src: {in: narrow, not_in: wide}}
    then: block
  - id: unknowable
    when: {src: {in: registered}}
    then: allow
  - id: static-vs-registry
    when: {src: {in: wide}}
    then: block
  - id: other-app
    when: {app: ssl}
    then: flag
"""
    ) == ["rule 'impossible' can never match: its conditions contradict each other"]


def test_unused_sets_are_reported_and_the_examples_have_no_unreachable_rules() -> None:
    policy = load_policy(EXAMPLES / "pta-vpn-2024.yaml")
    assert [w.message for w in analyse(policy)] == [
        "set 'everyone_registered' is defined but no rule uses it",
        "set 'domestic' is defined but no rule uses it",
    ]
    for path in EXAMPLES.glob("*.yaml"):
        assert not [w for w in analyse(load_policy(path)) if "never match" in w.message]
