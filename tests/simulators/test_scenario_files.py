"""Scenario files are refused like policies: every problem at once, each at FILE:LINE:COLUMN."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_fuzz import key_paths, load_edited

from policysim.simulators.scenario import SCENARIO_DIR, ScenarioError, load_scenario

SMALL = (SCENARIO_DIR / "small-isp.yaml").read_text()


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    assert str(refused.value) == "\n".join(str(p) for p in refused.value.problems)
    return [str(p).removeprefix(f"{path}:") for p in refused.value.problems]


def test_every_problem_is_listed_at_its_place(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        scenario: bad
        timezone: Mars/Olympus
        start: "2024-11-30T00:00:00"
        end: "2024-11-29"
        deadline: tomorrow
        subscribers: many
        subscriber_space: [39.40.0.0/16, 39.400.0.0/17]
        vpn_endpoints: provider
        diurnal:
          household: [1, 2, 3]
          office: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        categories:
          freelancer: {count: 3, v4_prefix: [33], adoption: {late: 0.35, rush: 1}}
          bank: {cnt: 3}
        apps:
          https: {proto: [tcp], dport: [443, 70000]}
          wireguard: {proto: udp, dport: [51820], vpn: yes, dst: vpm}
        ordinary_mix: {https: 1, quic: 0.2}
        groups:
          freelancers:
            subscribers: 0.5
            vpn_shar: 0.4
            vpn_share: 1.5
            vpn_mix: {https: 1}
            categories: [freelancr]
            registers: sometimes
            diurnal: offices
            vpn_targets: {gateway: 1, provider: 1}
          household:
            subscribers: 0.5
            vpn_share: 0.1
        destinations:
          content: [142.250.0.0/15]
          dns: 8.8.8.8
        """,
    )
    assert found == [
        "2:11: timezone: unknown time zone 'Mars/Olympus': use a tz database name such as"
        " Asia/Karachi or UTC",
        "4:6: end: must be after start (2024-11-30T00:00:00)",
        "5:11: deadline: 'tomorrow' is not a time: write ISO 8601, as in"
        " 2024-12-01T00:00:00+05:00, or epoch seconds",
        "6:14: subscribers: must be a whole number, not text ('many')",
        "7:34: subscriber_space.1: '39.400.0.0/17' does not appear to be an IPv4 or IPv6 network",
        "8:16: vpn_endpoints: must be 'providers' (the shared data) or a list",
        "10:14: diurnal.household: needs 24 weights, one per hour 0..23, not 3",
        "13:38: categories.freelancer.v4_prefix.0: prefix length 33 is outside 8..32",
        "13:53: categories.freelancer.adoption: before_deadline + late is 1.05: it can be at"
        " most 1 (the rest never register)",
        "13:66: categories.freelancer.adoption.rush: unknown key 'rush' (expected one of:"
        " before_deadline, late, rush_days, spread_days, late_days, revoked);"
        " did you mean 'rush_days'?",
        "14:3: categories.bank.count: is required",
        "14:10: categories.bank.cnt: unknown key 'cnt' (expected one of: count, v4_prefix,"
        " v6_prefix, ipv6_share, adoption, approval, max_addresses, by_subscriber,"
        " follow_delay_hours); did you mean 'count'?",
        "16:38: apps.https.dport.1: port 70000 is outside 0..65535",
        "17:22: apps.wireguard.proto: must be a list of text values, not text ('udp')",
        "17:48: apps.wireguard.vpn: must be true or false, not text ('yes')",
        "17:58: apps.wireguard.dst: unknown 'vpm' (expected one of: content, dns, vpn);"
        " did you mean 'vpn'?",
        "18:26: ordinary_mix.quic: unknown app 'quic' (expected one of: https, wireguard)",
        "22:5: groups.freelancers.vpn_shar: unknown key 'vpn_shar' (expected one of:"
        " subscribers, activity, vpn_share, vpn_mix, vpn_targets, categories, registers,"
        " ipv6_share, diurnal, addressing, business_use, remote_share, remote_addressing);"
        " did you mean 'vpn_share'?",
        "23:16: groups.freelancers.vpn_share: is a share: it must be between 0 and 1, not 1.5",
        "24:15: groups.freelancers.vpn_mix.https: https is not a VPN app: this mix takes VPN"
        " apps (`vpn: true`) only",
        "25:18: groups.freelancers.categories.0: unknown category 'freelancr' (expected one of:"
        " freelancer, bank); did you mean 'freelancer'?",
        "26:16: groups.freelancers.registers: unknown 'sometimes' (expected one of: any,"
        " eventually, never)",
        "27:14: groups.freelancers.diurnal: no diurnal curve 'offices' (expected one of:"
        " household, office); did you mean 'office'?",
        "28:31: groups.freelancers.vpn_targets.provider: unknown VPN target 'provider'"
        " (expected one of: providers, gateway); did you mean 'providers'?",
        "31:16: groups.household.vpn_share: a group that uses VPNs needs a vpn_mix"
        " (which VPN apps)",
        "32:1: destinations.gateways: is required",
        "34:8: destinations.dns: must be a list of text values, not text ('8.8.8.8')",
    ]


def test_a_value_at_fault_is_reported_once(tmp_path: Path) -> None:
    """A wrong value is not reported again by the checks that would read it."""
    text = SMALL.replace("proto: [tcp], dport: [443]}", "proto: [tcp], dport: [https]}", 1)
    text = text.replace("ordinary_mix: {https: 0.6,", "ordinary_mix: {https: -0.6,")
    text = text.replace("subscribers: 0.15\n    vpn_share: 0.4", "subscribers: x\n    vpn_share: 4")
    found = problems(tmp_path, text)
    assert [f.split(": ", 1)[1] for f in found] == [
        "apps.https.dport.0: must be a whole number, not text ('https')",
        "ordinary_mix.https: must be 0 or more, not -0.6",
        "groups.personal_privacy.subscribers: must be a number, not text ('x')",
        "groups.personal_privacy.vpn_share: is a share: it must be between 0 and 1, not 4",
    ]


def test_required_keys_and_the_shape_of_the_file(tmp_path: Path) -> None:
    assert problems(tmp_path, "scenario: x\n") == [
        "1:1: deadline: is required",
        "1:1: destinations: is required: the content, dns and gateways address lists",
        "1:1: end: is required",
        "1:1: groups: at least one population group is required",
        "1:1: ordinary_mix: needs at least one app with a weight above 0",
        "1:1: start: is required",
    ]
    assert problems(tmp_path, "- a list\n") == [
        "1:1: a scenario must be a YAML mapping, not a list"
    ]
    assert problems(tmp_path, "scenario: [x\n")[0].startswith("2:1: not valid YAML: ")
    assert problems(tmp_path, "scenario: x\nscenario: y\n")[0].startswith("2:1: not valid YAML")


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as refused:
        load_scenario(tmp_path / "missing.yaml")
    assert str(refused.value) == (
        f"{tmp_path / 'missing.yaml'}: no such scenario file or bundled scenario"
        " (bundled: pta-2024, pta-deadline, small-isp)"
    )
    (tmp_path / "latin1.yaml").write_bytes(b"scenario: caf\xe9\n")
    with pytest.raises(ScenarioError, match=r"latin1.yaml: not UTF-8 text"):
        load_scenario(tmp_path / "latin1.yaml")


def test_times_are_read_in_the_scenario_zone_or_with_their_offset(tmp_path: Path) -> None:
    text = SMALL.replace('start: "2024-11-30T00:00:00"', "start: 2024-11-29T19:00:00Z")
    text = text.replace('end: "2024-12-02T00:00:00"', "end: 2024-12-02")
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    assert load_scenario(path).window == load_scenario("small-isp").window


def test_a_population_problem_keeps_its_message() -> None:
    """The population (built after loading) reports with one message naming the file."""
    error = ScenarioError("small.yaml: the subscriber space is too small")
    assert str(error) == "small.yaml: the subscriber space is too small"
    assert [p.message for p in error.problems] == ["small.yaml: the subscriber space is too small"]


_VALUES = st.sampled_from(
    [None, "x", -1, 0, 1.5, 70000, True, [], {}, ["x"], {"a": 1}, "2024-01-01"]
)


_PATHS = key_paths(SMALL)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.sampled_from(_PATHS), _VALUES), min_size=1, max_size=3))
def test_any_wrong_value_is_a_problem_never_a_crash(tmp_path: Path, edits: list) -> None:
    load_edited(SMALL, edits, tmp_path)


def test_a_document_yaml_gives_no_place_is_refused_at_its_start(tmp_path: Path) -> None:
    path = tmp_path / "eq.yaml"
    path.write_text("=")
    with pytest.raises(ScenarioError, match=rf"{path}:1:1: "):
        load_scenario(str(path))
