"""report.json, report.md and a self-contained report.html are written from one report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from report_verdicts import TIMEZONE, make_verdicts, write_verdict_file

from policysim.report import report_from_file, write_report
from policysim.report.charts import CHARTS


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("render")
    verdicts = write_verdict_file(base / "verdicts.jsonl", make_verdicts(1500, seed=2))
    inputs = {"scenario": {"name": "toy-deadline", "seed": 2}, "software": {"policysim": "x"}}
    report = report_from_file(verdicts, timezone=TIMEZONE, inputs=inputs)
    return write_report(report, base / "out")


def test_all_files_are_written(written: dict[str, Path]) -> None:
    expected = {"report.json", "report.md", "report.html"} | {f"charts/{c}.svg" for c in CHARTS}
    assert set(written) == expected
    assert json.loads(written["report.json"].read_text())["schema"] == "policysim-report/1"


def test_html_is_self_contained(written: dict[str, Path]) -> None:
    page = written["report.html"].read_text()
    assert page.count("<svg") == len(CHARTS)
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", page)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "toy-deadline" in page


def test_markdown_has_the_headline_and_links_its_charts(written: dict[str, Path]) -> None:
    text = written["report.md"].read_text()
    assert "| deadline | enforced | 1,500 |" in text
    for name in CHARTS:
        assert f"(charts/{name}.svg)" in text
        assert (written["report.md"].parent / "charts" / f"{name}.svg").exists()


def test_every_number_in_the_headline_comes_from_the_json(written: dict[str, Path]) -> None:
    report = json.loads(written["report.json"].read_text())
    text = written["report.md"].read_text()
    for row in report["headline"]:
        assert f"| {row['policy']} | {row['role']} | {row['events']:,} |" in text
