"""A sweep: each point counts what ``run --offline`` decides, the same whatever the processes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from policysim.app.errors import BadInput
from policysim.app.run import run_scenario
from policysim.app.sweep import run_sweep
from policysim.base.settings import Settings
from policysim.policies.examples import DEFAULT_POLICIES
from policysim.policies.model import Verdict

EVENTS = 3000
VARY = ["groups.household.vpn_share=0.01,0.3", "groups.personal_privacy.registers=any,never"]


@pytest.fixture(scope="module")
def in_one_process(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sweep") / "one"
    return run_sweep(Settings(), "small-isp", VARY, out=out, count=EVENTS, seed=4, jobs=1)


def test_the_grid_is_run_in_order_and_written(in_one_process) -> None:
    doc = in_one_process.doc
    assert [p["values"] for p in doc["points"]] == [
        {"groups.household.vpn_share": 0.01, "groups.personal_privacy.registers": "any"},
        {"groups.household.vpn_share": 0.01, "groups.personal_privacy.registers": "never"},
        {"groups.household.vpn_share": 0.3, "groups.personal_privacy.registers": "any"},
        {"groups.household.vpn_share": 0.3, "groups.personal_privacy.registers": "never"},
    ]
    assert doc["parameters"][0] == {"path": "groups.household.vpn_share", "values": [0.01, 0.3]}
    assert [p["name"] for p in doc["sweep"]["policies"]] == [
        Path(name).stem for name in DEFAULT_POLICIES
    ]
    for point in doc["points"]:
        assert point["events"] == EVENTS and point["rejected"] == 0
        assert (in_one_process.out / point["scenario_file"]).is_file()
        for outcome in point["policies"]:
            assert outcome["legitimate"]["total"] + outcome["illegitimate_vpn"]["total"] == EVENTS
    more_vpn = doc["points"][2]["policies"][0]["illegitimate_vpn"]["total"]
    assert more_vpn > doc["points"][0]["policies"][0]["illegitimate_vpn"]["total"]
    written = in_one_process.written
    assert json.loads(written["sweep.json"].read_text()) == doc
    assert written["sweep.html"].read_text().count("<svg") == 2


def test_processes_do_not_change_a_number(in_one_process, tmp_path: Path) -> None:
    pooled = run_sweep(Settings(), "small-isp", VARY, out=tmp_path, count=EVENTS, seed=4, jobs=2)
    assert pooled.processes == 2
    assert (
        pooled.written["sweep.json"].read_bytes()
        == in_one_process.written["sweep.json"].read_bytes()
    )
    assert (
        pooled.written["sweep.html"].read_bytes()
        == in_one_process.written["sweep.html"].read_bytes()
    )


def test_a_point_counts_what_run_offline_decides(in_one_process, tmp_path: Path) -> None:
    """Recompute recall and collateral of one point from the verdicts of `run --offline`."""
    point = in_one_process.doc["points"][3]
    scenario = str(in_one_process.out / point["scenario_file"])
    run = run_scenario(
        Settings(), scenario, out=tmp_path, offline=True, count=EVENTS, seed=4, keep_verdicts=True
    )
    lines = (run.out / "verdicts.jsonl").read_bytes().splitlines()
    verdicts = [msgspec.json.decode(line, type=Verdict) for line in lines]
    for outcome in point["policies"]:
        hit: Counter[tuple[bool, str]] = Counter()
        for v in verdicts:
            if v.policy == outcome["name"]:
                assert v.truth is not None
                hit[(v.truth.is_vpn and not v.truth.legitimate(), v.decision)] += 1
        illegitimate = sum(n for (bad, _), n in hit.items() if bad)
        assert illegitimate == outcome["illegitimate_vpn"]["total"] > 0
        assert outcome["recall_block"] == hit[(True, "block")] / illegitimate
        assert outcome["recall_flag_or_block"] == (
            (hit[(True, "block")] + hit[(True, "flag")]) / illegitimate
        )
        assert outcome["collateral_blocked"] == hit[(False, "block")]
        assert outcome["collateral_flagged"] == hit[(False, "flag")]


def test_inputs_are_refused_before_any_point_runs(tmp_path: Path) -> None:
    out = tmp_path / "never"
    with pytest.raises(BadInput, match=r"^--vary groups\.household\.vpn_share=2: "):
        run_sweep(Settings(), "small-isp", ["groups.household.vpn_share=0.1,2"], out=out)
    with pytest.raises(BadInput, match=r"^--count 0: give at least one event$"):
        run_sweep(Settings(), "small-isp", ["subscribers=100"], out=out, count=0)
    assert not out.exists()
