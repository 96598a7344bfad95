"""The realistic blocks of a scenario file are refused like the rest: every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_fuzz import key_paths, load_edited

from policysim.simulators.scenario import SCENARIO_DIR, ScenarioError, load_scenario

SMALL = (SCENARIO_DIR / "small-isp.yaml").read_text()

GOOD = """
classifier:
  labels: [ssl, unknown]
  transports:
    openvpn: {openvpn: 0.85, ssl: 0.10, unknown: 0.05}
  false_positives:
    https: {openvpn: 0.0005}
address_pools:
  fixed: {mode: dynamic, lease_hours: 24, leave_prefix: 0.5}
  mobile: {mode: cgnat, per_address: 8}
enforcement:
  blocking_from: "2024-12-01T00:00:00"
  trials: [{from: "2024-11-30T10:00:00", until: "2024-11-30T12:00:00"}]
  switch_obfuscated: 0.2
  obfuscated_mix: {sstp: 1}
  switch_unlisted: 0.1
  stop: 0.05
  retries: 1
  late_registration_boost: 1.5
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_scenario(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    return [str(p).removeprefix(f"{path}:") for p in refused.value.problems]


def test_the_realistic_blocks_load(tmp_path: Path) -> None:
    scenario = load(tmp_path, SMALL + GOOD)
    assert scenario.realistic
    assert scenario.classifier is not None and scenario.classifier.labels == ["ssl", "unknown"]
    assert scenario.enforcement is not None
    assert scenario.enforcement.trials[0].from_ == "2024-11-30T10:00:00"
    assert not load_scenario("small-isp").realistic
    assert not load_scenario("pta-deadline").realistic
    assert load_scenario("pta-2024").realistic


def test_label_probabilities_must_sum_to_one(tmp_path: Path) -> None:
    text = GOOD.replace("unknown: 0.05}", "unknown: 0.0500001}")
    assert problems(tmp_path, SMALL + text) == [
        "80:14: classifier.transports.openvpn: label probabilities sum to 1.0000001, not 1"
    ]
    within = GOOD.replace("unknown: 0.05}", "unknown: 0.0500000000001}")
    assert load(tmp_path, SMALL + within).classifier is not None


def test_unknown_transports_labels_apps_and_pools_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("openvpn: {openvpn: 0.85", "openvpm: {openvpn: 0.85")
    text = text.replace(
        "https: {openvpn: 0.0005}", "https: {tls: 0.0005}\n    wireguard: {ssl: 0.1}"
    )
    text = text.replace("labels: [ssl, unknown]", "labels: [ssl, unknown, dns]")
    text = text.replace("obfuscated_mix: {sstp: 1}", "obfuscated_mix: {https: 1}")
    text = text.replace("mode: cgnat", "mode: nat")
    small = SMALL.replace("    registers: never\n", "    registers: never\n    addressing: fixd\n")
    assert problems(tmp_path, small + text) == [
        "63:17: groups.unregistered_freelancer.addressing: unknown address pool 'fixd'"
        " (expected one of: static, fixed, mobile); did you mean 'fixed'?",
        "79:26: classifier.labels.2: dns is an app: its name is a label already",
        "81:5: classifier.transports.openvpm: unknown app 'openvpm' (expected one of: https,"
        " quic, dns, wireguard, openvpn, ipsec, l2tp, pptp, sstp); did you mean 'openvpn'?",
        "83:13: classifier.false_positives.https.tls: unknown label 'tls' (expected one of:"
        " https, quic, dns, wireguard, openvpn, ipsec, l2tp, pptp, sstp, ssl, unknown, dns)",
        "84:5: classifier.false_positives.wireguard: false_positives takes apps that are not"
        " VPNs only",
        "87:18: address_pools.mobile.mode: unknown 'nat' (expected one of: dynamic, cgnat);"
        " did you mean 'cgnat'?",
        "92:20: enforcement.obfuscated_mix.https: https is not a VPN app: this mix takes VPN"
        " apps (`vpn: true`) only",
    ]


def test_shares_delays_times_and_needs_are_checked(tmp_path: Path) -> None:
    text = GOOD.replace("lease_hours: 24, leave_prefix: 0.5", "lease_hours: 0, leave_prefix: 1.5")
    text = text.replace('until: "2024-11-30T12:00:00"', 'until: "2024-11-30T09:00:00"')
    text = text.replace('blocking_from: "2024-12-01T00:00:00"', "blocking_from: soon")
    text = text.replace("  obfuscated_mix: {sstp: 1}\n", "")
    text = text.replace("retries: 1", "retries: -1")
    small = SMALL.replace(
        "late_days: 0.5}}",
        "late_days: 0.5},\n                   approval: {median_hours: 9, p95_hours: 2},"
        " by_subscriber: 2, max_addresses: 0}",
        1,
    )
    small = small.replace(
        "    registers: never\n", "    registers: never\n    business_use: 1.2\n", 1
    )
    small = small.replace("  household:\n", "  household:\n    remote_share: 0.2\n", 1)
    assert problems(tmp_path, small + text) == [
        "22:59: categories.software_house.approval.p95_hours: must be at least median_hours"
        " (9), not 2",
        "22:78: categories.software_house.by_subscriber: is a share: it must be between 0 and 1,"
        " not 2",
        "22:96: categories.software_house.max_addresses: must be 1 or more, not 0",
        "64:19: groups.unregistered_freelancer.business_use: is a share: it must be between 0"
        " and 1, not 1.2",
        "70:19: groups.household.remote_share: remote staff need `categories` (whose staff they"
        " are)",
        "87:39: address_pools.fixed.lease_hours: must be 1 or more (the leases are drawn up"
        " front), not 0",
        "87:56: address_pools.fixed.leave_prefix: is a share: it must be between 0 and 1, not 1.5",
        "90:18: enforcement.blocking_from: 'soon' is not a time: write ISO 8601, as in"
        " 2024-12-01T00:00:00+05:00, or epoch seconds",
        "91:49: enforcement.trials.0.until: must be after from",
        "92:22: enforcement.switch_obfuscated: needs an obfuscated_mix (the VPN apps switched to)",
        "95:12: enforcement.retries: must be 0 or more, not -1",
    ]


_VALUES = st.sampled_from([None, "x", -1, 0, 1.5, True, [], {}, ["x"], {"a": 1}, "2024-01-01"])


_PATHS = key_paths(GOOD)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.sampled_from(_PATHS), _VALUES), min_size=1, max_size=3))
def test_any_wrong_realistic_value_is_a_problem_never_a_crash(tmp_path: Path, edits: list) -> None:
    load_edited(SMALL + GOOD, edits, tmp_path)
