"""The policy parser: the contract form parses, every kind of mistake is refused at its position."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from policysim.policies.addresses import parse_ip
from policysim.policies.examples import EXAMPLES_DIR as EXAMPLES
from policysim.policies.language import PolicyError, load_policy, parse_policy
from policysim.policies.language.ast import AddressCondition, PortCondition, ValueCondition

GOOD = """\
policy: p
version: 1
timezone: Asia/Karachi
sets:
  registered: {registry: {categories: [freelancer, bank]}}
  anyone: {registry: {}}
  endpoints: {cidrs: [198.51.100.0/24, "2001:db8::/32", "::ffff:192.0.2.1"]}
phases:
  grace: {until: "2024-12-01T00:00:00"}
  enforce: {from: 2024-12-01T00:00:00+05:00}
rules:
  - id: ok
    when: {src: {in: [registered, anyone]}}
    then: allow
  - id: vpn
    when:
      app: [wireguard, openvpn]
      src: {not_in: registered}
      proto: UDP
      dport: [51820, "500-501"]
    then: {grace: flag, enforce: block}
  - id: catch-all
    then: flag
default: allow
"""


def problems(text: str, tmp_path: Path, name: str = "p.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    return [str(p).removeprefix(f"{path}:") for p in info.value.problems]


def test_the_contract_form_parses_into_the_ast() -> None:
    policy = parse_policy(GOOD, "good.yaml")
    assert (policy.name, policy.version, policy.default) == ("p", 1, "allow")
    assert policy.sets["registered"].categories == frozenset({"freelancer", "bank"})
    assert policy.sets["anyone"].categories is None
    assert parse_ip("192.0.2.1") in policy.sets["endpoints"].ipset
    karachi_midnight = datetime(2024, 12, 1, tzinfo=ZoneInfo("Asia/Karachi")).timestamp()
    assert [(p.name, p.start, p.end) for p in policy.phases] == [
        ("grace", None, karachi_midnight),
        ("enforce", karachi_midnight, None),
    ]
    vpn = policy.rules[1]
    assert vpn.conditions == (
        AddressCondition("src", ("registered",), True, vpn.conditions[0].position),
        ValueCondition("app", frozenset({"wireguard", "openvpn"}), vpn.conditions[1].position),
        ValueCondition("proto", frozenset({"udp"}), vpn.conditions[2].position),
        PortCondition("dport", ((51820, 51820), (500, 501)), vpn.conditions[3].position),
    )
    assert vpn.by_phase == {"grace": "flag", "enforce": "block"}
    assert vpn.decision_in(None) is None
    assert policy.rules[2].conditions == () and policy.rules[2].decision == "flag"
    assert policy.phase_at(karachi_midnight - 1).name == "grace"
    assert policy.phase_at(karachi_midnight).name == "enforce"
    assert len(policy.sha256) == 64


def test_positions_point_at_the_offending_token(tmp_path: Path) -> None:
    found = problems(
        """\
        policy: p
        version: 1
        colour: red
        sets:
          a: {cidrs: [10.0.0.0/8, 10.0.0.300/32]}
        rules:
          - id: r1
            when: {src: {in: nope}}
            then: allow
        default: allow
        """,
        tmp_path,
    )
    assert found == [
        "3:1: unknown key 'colour' in the policy (expected one of: policy, version, description,"
        " timezone, sets, phases, rules, default, tests, test_registry)",
        "5:27: bad CIDR '10.0.0.300/32' in set 'a': " + found[1].split(": ", 2)[2],
        "8:22: unknown set 'nope' (expected one of: a)",
    ]


def test_every_problem_is_listed_not_only_the_first(tmp_path: Path) -> None:
    found = problems(
        """\
        policy: p
        version: one
        timezone: Mars/Olympus
        sets:
          f: {file: missing.txt}
          both: {cidrs: [10.0.0.0/8], registry: {}}
          empty: {registry: {categories: []}}
        phases:
          a: {from: "2024-11-01", until: "2024-12-15"}
          b: {from: "2024-12-01"}
          c: {from: "not a time"}
          d: {until: "2024-01-01", from: "2024-02-01"}
        rules:
          - id: r
            when: {app: wireguard, dport: "70000", sport: "9-3", colour: red}
            then: {b: block, z: flag}
          - id: r
            when: {dst: {inside: f}}
            then: deny
          - when: {}
            then: allow
          - id: t
        default: maybe
        tests:
          - name: t1
            event: {src: 1.2.3.4, dst: 5.6.7.8, dport: 1, proto: tcp, ts: 0, colour: 1}
            expect: {decision: allow, rule: nope}
          - name: t2
            event: {src: 1.2.3.999, dst: 5.6.7.8, dport: 1, proto: tcp, ts: 0}
            expect: {decision: allow}
        """,
        tmp_path,
    )
    messages = "\n".join(found)
    expected = [
        "2:10: `version` must be a whole number >= 0: 'one'",
        "3:11: unknown timezone 'Mars/Olympus'",
        "5:13: set 'f': file not found:",
        "6:3: set 'both' needs exactly one of: registry, file, cidrs",
        "7:34: a category must not be an empty list",
        "10:3: phase 'b' overlaps phase 'a' (defined at 9:3)",
        "11:13: 'not a time' is not a time: write ISO 8601",
        "12:3: phase 'd' ends before it starts",
        "15:35: `dport`: port out of range 0-65535: '70000'",
        "15:51: `sport`: empty port range (low end above high end): '9-3'",
        "15:58: unknown key 'colour' in `when` of rule 'r'",
        "16:22: unknown phase 'z' in rule 'r' (expected one of: a, b)",
        "17:9: duplicate rule id 'r' (first at 14:9)",
        "18:17: `dst` needs `in` or `not_in`",
        "18:18: unknown key 'inside' in `dst` (expected one of: in, not_in)",
        "19:11: unknown decision 'deny' (expected one of: allow, flag, block)",
        "20:5: rule #3 needs an `id` (a non-empty string)",
        "22:9: rule 't' needs `then`",
        "23:10: unknown decision 'maybe' (expected one of: allow, flag, block)",
        "26:70: unknown key 'colour' in event of test 't1'",
        "27:37: unknown rule 'nope' (expected one of: r)",
        "29:12: bad event in test 't2': bad_address: `src` is not an IP address: '1.2.3.999'",
    ]
    for line in expected:
        assert line in messages, f"missing {line!r} in:\n{messages}"
    assert len(found) == len(expected)


def test_yaml_syntax_and_structure_errors(tmp_path: Path) -> None:
    assert problems("policy: p\nversion: 1\nrules: [\n", tmp_path)[0].startswith("4:1: not valid")
    dup = problems("policy: p\npolicy: q\nversion: 1\nrules: []\ndefault: allow\n", tmp_path)
    assert dup[0].startswith("2:1: not valid YAML") and "duplicate" in dup[0]
    assert problems("- just a list\n", tmp_path) == ["1:1: a policy must be a YAML mapping"]
    missing = problems("policy: p\n", tmp_path)
    assert missing == [
        "1:1: missing required key 'default'",
        "1:1: missing required key 'rules'",
        "1:1: missing required key 'version'",
    ]
    assert problems("policy: p\nversion: 1\nrules: {}\ndefault: allow\n", tmp_path) == [
        "3:8: `rules` must be a list of rules"
    ]


def test_set_file_problems_point_into_the_set_file(tmp_path: Path) -> None:
    (tmp_path / "sets").mkdir()
    (tmp_path / "sets" / "vpn.txt").write_text("# comment\n10.0.0.0/8\nnot-an-ip\n")
    found = problems(
        """\
        policy: p
        version: 1
        sets: {vpn: {file: sets/vpn.txt}}
        rules: [{id: r, when: {dst: {in: vpn}}, then: block}]
        default: allow
        """,
        tmp_path,
    )
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'sets' / 'vpn.txt'}:3:1: in set 'vpn':")


def test_times_without_offset_use_the_policy_timezone(tmp_path: Path) -> None:
    text = """\
    policy: p
    version: 1
    timezone: Asia/Karachi
    phases:
      a: {until: 2024-12-01}
      b: {from: "2024-12-01T00:00:00", until: 1735689600}
    rules: []
    default: block
    tests:
      - name: t
        event: {src: 1.2.3.4, dst: 5.6.7.8, dport: 1, proto: tcp, ts: "2024-12-01T00:00:00"}
        expect: {decision: block, rule: null, phase: b}
    """
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    policy = load_policy(path)
    midnight = datetime(2024, 12, 1, tzinfo=ZoneInfo("Asia/Karachi")).timestamp()
    assert policy.phases[0].end == midnight == policy.phases[1].start
    assert policy.phases[1].end == 1735689600.0
    test = policy.tests[0]
    assert test.event.ts == midnight and test.event.id == "t" and test.event.sport == 0
    assert test.checks_rule and test.expect_rule is None and test.expect_phase == "b"


def test_the_bundled_examples_parse() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        policy = load_policy(path)
        assert policy.tests, path
        assert policy.test_registry and Path(policy.test_registry).is_file()


def test_a_rule_may_not_be_called_default(tmp_path: Path) -> None:
    found = problems(
        """\
        policy: p
        version: 1
        rules:
          - {id: default, then: block}
        default: allow
        """,
        tmp_path,
    )
    assert found == [
        "4:10: a rule may not be called 'default': verdicts could not tell it from the policy's"
        " default decision; choose another id",
    ]
    found = problems(
        """\
        policy: p
        version: 1
        rules: [{id: fine, then: allow}]
        default: allow
        tests:
          - name: t
            event: {src: 1.2.3.4, dst: 5.6.7.8, dport: 1, proto: tcp, ts: 0}
            expect: {decision: allow, rule: default}
        """,
        tmp_path,
    )
    assert found == [
        "8:37: unknown rule 'default' (to expect the policy's default decision, write"
        " `rule: null`)",
    ]


def test_a_missing_set_file_is_one_problem_where_it_is_named(tmp_path: Path) -> None:
    found = problems(
        """\
        policy: p
        version: 1
        sets:
          vpn: {file: sets/missing.txt}
          other: {file: 42}
        rules:
          - {id: r, when: {dst: {in: [vpn, other]}}, then: block}
          - {id: s, when: {dst: {not_in: vpn}}, then: flag}
        default: allow
        """,
        tmp_path,
    )
    assert found == [
        f"4:15: set 'vpn': file not found: {tmp_path / 'sets' / 'missing.txt'} (a relative name"
        " starts from the policy file's folder)",
        "5:17: `file` must be a file name, not a number (42)",
    ]


def test_an_unreadable_set_file_is_reported_where_it_is_named(tmp_path: Path) -> None:
    (tmp_path / "sets.txt").write_bytes(b"10.0.0.0/8\n\xff\n")
    found = problems(
        """\
        policy: p
        version: 1
        sets: {vpn: {file: sets.txt}}
        rules: [{id: r, when: {dst: {in: vpn}}, then: block}]
        default: allow
        """,
        tmp_path,
    )
    assert found == ["3:20: in set 'vpn': not UTF-8 text (byte 11 cannot be decoded)"]


def test_a_missing_or_unreadable_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as refused:
        load_policy(tmp_path / "nope.yaml")
    assert str(refused.value) == f"{tmp_path / 'nope.yaml'}: file not found"


def test_app_and_proto_match_whatever_their_case() -> None:
    policy = parse_policy(
        """\
        policy: p
        version: 1
        rules:
          - {id: vpn, when: {app: [WireGuard, openvpn], proto: UDP}, then: block}
        default: allow
        """.replace("        ", ""),
        "p.yaml",
    )
    condition = policy.rules[0].conditions
    assert {c.field: c.values for c in condition} == {
        "app": frozenset({"wireguard", "openvpn"}),
        "proto": frozenset({"udp"}),
    }
