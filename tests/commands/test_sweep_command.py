"""``policysim sweep`` as a person runs it: a table, a page, and one sentence for a bad --vary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_runs import cli

TINY = ("sweep", "small-isp", "--vary", "groups.personal_privacy.vpn_share=0.2,0.6", "--count")


def test_a_tiny_sweep_end_to_end(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    code, stdout, stderr = cli(capsys, *TINY, "2000", "--jobs", "2", "--out", str(out))
    assert code == 0, stderr
    assert "Recall and collateral at each point" in stdout
    assert stdout.count("pta-vpn-strict") == 2  # one row per point and policy
    assert "2 points × 2,000 events in" in stderr and "(2 processes," in stderr
    page = (out / "sweep.html").read_text()
    assert page.count("<svg") == 1
    assert "Recall and collateral against groups.personal_privacy.vpn_share" in page
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", page)  # nothing from afar
    doc = json.loads((out / "sweep.json").read_text())
    assert [p["values"] for p in doc["points"]] == [
        {"groups.personal_privacy.vpn_share": 0.2},
        {"groups.personal_privacy.vpn_share": 0.6},
    ]
    assert sorted(p.name for p in (out / "scenarios").iterdir()) == [
        "point-01.yaml",
        "point-02.yaml",
    ]


def test_format_json_prints_the_sweep_document(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    out = tmp_path / "json"
    code, stdout, _ = cli(capsys, *TINY, "500", "--format", "json", "--out", str(out))
    assert code == 0
    assert json.loads(stdout) == json.loads((out / "sweep.json").read_text())


@pytest.mark.parametrize(
    ("vary", "sentence"),
    [
        (
            "groups.personal_privcy.vpn_share=0.1",
            "policysim sweep: --vary groups.personal_privcy: the scenario has no"
            " 'personal_privcy' in groups",
        ),
        (
            "groups.personal_privacy.vpn_share=0.1,7",
            "policysim sweep: --vary groups.personal_privacy.vpn_share=7:"
            " groups.personal_privacy.vpn_share: is a share: it must be between 0 and 1, not 7",
        ),
        ("groups.personal_privacy.vpn_share", "policysim sweep: --vary groups.personal_privacy"),
    ],
)
def test_a_bad_path_or_value_is_one_sentence_and_exit_2(
    capsys: pytest.CaptureFixture, tmp_path: Path, vary: str, sentence: str
) -> None:
    out = tmp_path / "never"
    code, stdout, stderr = cli(capsys, "sweep", "small-isp", "--vary", vary, "--out", str(out))
    assert code == 2
    assert stdout == ""
    assert stderr.startswith(sentence)
    assert stderr.count("\n") == 1
    assert not out.exists()
