"""`policy check` warnings: each one is a proof that a rule can never match."""

from __future__ import annotations

from policysim.base.vocabulary import CATEGORIES
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


def test_unused_sets_are_reported() -> None:
    policy = parse_policy(HEAD + "  - {id: r, when: {src: {in: registered}}, then: block}\n", "p")
    assert [str(w) for w in analyse(policy)] == [
        f"p:{line}:3: warning: set {name!r} is defined but no rule uses it"
        for line, name in ((5, "freelancers"), (6, "anyone"), (7, "wide"), (8, "narrow"),
                           (9, "elsewhere"))
    ]  # fmt: skip


def test_a_misspelt_category_is_warned_about_where_it_is_written() -> None:
    text = HEAD.replace("[freelancer, bank]", "[freelancer, bnak, Software_House, ngo]")
    policy = parse_policy(text + "  - {id: r, when: {src: {in: registered}}, then: block}\n", "p")
    found = [str(w) for w in analyse(policy) if "no rule uses it" not in w.message]
    known = ", ".join(CATEGORIES)
    assert found == [
        f"p:4:52: warning: category 'bnak' is not a known registry category (expected one of:"
        f" {known}); did you mean 'bank'?",
        f"p:4:58: warning: category 'Software_House' is not a known registry category"
        f" (expected one of: {known}); did you mean 'software_house'?",
        f"p:4:74: warning: category 'ngo' is not a known registry category"
        f" (expected one of: {known})",
    ]


def test_the_examples_have_no_warnings() -> None:
    """What `policysim policy check --strict` needs of the shipped policies."""
    paths = sorted(EXAMPLES.glob("*.yaml"))
    assert len(paths) == 4
    for path in paths:
        assert [str(w) for w in analyse(load_policy(path))] == [], path
