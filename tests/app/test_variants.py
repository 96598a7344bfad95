"""Scenario variants: --vary parsed, the grid expanded, every value checked as the file would be."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from policysim.app.errors import BadInput
from policysim.app.variants import Parameter, Variant, grid, parse_vary, variants
from policysim.simulators.scenario import SCENARIO_DIR, load_scenario

SMALL = SCENARIO_DIR / "small-isp.yaml"


def test_values_are_yaml_and_the_first_parameter_changes_slowest() -> None:
    share = parse_vary("groups.household.vpn_share=0.01, 0.1,1")
    registers = parse_vary("groups.personal_privacy.registers=any,never")
    flag = parse_vary("a.b=true,false")
    assert share == Parameter("groups.household.vpn_share", (0.01, 0.1, 1))
    assert [type(v) for v in share.values] == [float, float, int]
    assert registers.values == ("any", "never")
    assert flag.values == (True, False)
    assert grid([share, registers]) == [
        (0.01, "any"),
        (0.01, "never"),
        (0.1, "any"),
        (0.1, "never"),
        (1, "any"),
        (1, "never"),
    ]
    assert grid([share]) == [(0.01,), (0.1,), (1,)]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("groups.household.vpn_share", "give PATH=V1,V2,..."),
        ("=0.1", "give PATH=V1,V2,..."),
        ("groups.household.vpn_share=", "give one or more values"),
        ("groups.household.vpn_share=0.1,,0.2", "give one or more values"),
        ("groups..vpn_share=0.1", "has an empty key"),
        ("groups.household.vpn_share=0.1,0.1", "a value is given twice"),
        ("groups.household.vpn_share=[0.1", "not a YAML value"),
    ],
)
def test_a_malformed_vary_is_refused_with_a_sentence(spec: str, message: str) -> None:
    with pytest.raises(BadInput, match=r"^--vary .*" + message.replace(".", r"\.")):
        parse_vary(spec)


def test_a_parameter_given_twice_is_refused() -> None:
    twice = [parse_vary("subscribers=100"), parse_vary("subscribers=200")]
    with pytest.raises(BadInput, match="--vary subscribers is given twice"):
        grid(twice)


def _variants(*specs: str) -> list[Variant]:
    parameters = [parse_vary(s) for s in specs]
    return variants(SMALL, parameters, grid(parameters))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        # a way through the file that does not exist: named, with the closest key
        (
            "groups.householdd.vpn_share=0.1",
            "--vary groups.householdd: the scenario has no 'householdd' in groups"
            " (expected one of: registered_business, registered_freelancer,"
            " unregistered_freelancer, personal_privacy, household); did you mean 'household'?",
        ),
        ("grups.household.vpn_share=0.1", "--vary grups: the scenario has no 'grups' at the top"),
        (
            "groups.household.vpn_mix.wireguard.share=1",
            "--vary groups.household.vpn_mix.wireguard: is a number (1), which holds no 'share'",
        ),
        (
            "groups.registered_business.categories.5=bank",
            "--vary groups.registered_business.categories.5: the list holds items 0 to 1",
        ),
        # the scenario's own checks, on the value at fault only
        (
            "groups.household.vpn_share=0.1,1.5",
            "--vary groups.household.vpn_share=1.5: groups.household.vpn_share: is a share:"
            " it must be between 0 and 1, not 1.5",
        ),
        (
            "groups.household.vpn_shar=0.1",
            "--vary groups.household.vpn_shar=0.1: groups.household.vpn_shar: unknown key"
            " 'vpn_shar' (expected one of:",
        ),
        (
            "groups.household.vpn_share=lots",
            "--vary groups.household.vpn_share=lots: groups.household.vpn_share: must be a"
            " number, not text ('lots')",
        ),
        ("subscribers=0", "--vary subscribers=0: subscribers: must be 1 or more, not 0"),
    ],
)
def test_a_bad_path_or_value_is_refused_naming_it(spec: str, message: str) -> None:
    with pytest.raises(BadInput) as refused:
        _variants(spec)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_values_that_fail_only_together_are_named_together() -> None:
    with pytest.raises(BadInput) as refused:
        _variants(
            "categories.freelancer.adoption.before_deadline=0.4,0.75",  # the file's late: 0.2
            "categories.freelancer.adoption.late=0.05,0.3",  # the file's before_deadline: 0.4
        )
    assert str(refused.value) == (
        "--vary values categories.freelancer.adoption.before_deadline=0.75,"
        " categories.freelancer.adoption.late=0.3 together: categories.freelancer.adoption:"
        " before_deadline + late is 1.05: it can be at most 1 (the rest never register)"
    )


def test_a_variant_is_the_file_with_only_its_values_changed(tmp_path: Path) -> None:
    found = _variants("groups.household.vpn_share=0.02,0.3", "groups.household.ipv6_share=0.5")
    assert len(found) == 2
    base = load_scenario(SMALL)
    for variant, share in zip(found, (0.02, 0.3), strict=True):
        file = tmp_path / "variant.yaml"
        file.write_text(variant.text)
        reloaded = load_scenario(file)
        reloaded.path = variant.scenario.path
        assert reloaded == variant.scenario, "the scenario is what its text loads as"
        varied = variant.scenario
        assert varied.groups["household"].vpn_share == share
        assert varied.groups["household"].ipv6_share == 0.5  # a key the file left at its default
        assert varied.sha256 != base.sha256
        unvaried = msgspec.structs.replace(
            varied, groups={**varied.groups, "household": base.groups["household"]}
        )
        assert msgspec.structs.replace(unvaried, path=base.path, sha256=base.sha256) == base
    assert "# A small, self-contained scenario" in found[0].text, "comments are kept"


def test_overlapping_paths_are_refused() -> None:
    overlapping = [parse_vary("groups.household.activity=1"), parse_vary("groups.household=x")]
    with pytest.raises(BadInput) as refused:
        grid(overlapping)
    assert str(refused.value) == (
        "--vary groups.household holds --vary groups.household.activity: vary one or the other"
    )
