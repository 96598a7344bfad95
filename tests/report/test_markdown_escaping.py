"""report.md shows names from the input as text, never as HTML or Markdown markup."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from report_verdicts import TIMEZONE, make_verdicts, write_verdict_file

from policysim.report import report_from_file, write_report
from policysim.report.render import markdown_text

POLICY = "deadline<script>alert(1)</script>"
RULE = '<img src=x onerror="alert(2)">'
ENTITY = "shop<script>steal()</script>"
APP = "vpn|app<b>"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("escaping")
    verdicts = []
    for v in make_verdicts(600, seed=3):
        changes: dict = {}
        if v.policy == "deadline":
            changes["policy"] = POLICY
        if v.rule is not None:
            changes["rule"] = RULE
        if v.app is not None:
            changes["app"] = APP
        if v.truth is not None:
            changes["truth"] = msgspec.structs.replace(v.truth, entity_id=ENTITY)
        verdicts.append(msgspec.structs.replace(v, **changes))
    path = write_verdict_file(base / "verdicts.jsonl", verdicts)
    inputs = {"scenario": {"name": "<script>x()</script>", "seed": 3}, "software": {}}
    report = report_from_file(path, timezone=TIMEZONE, inputs=inputs)
    return write_report(report, base / "out")


def test_markdown_report_has_no_markup_from_the_input(written: dict[str, Path]) -> None:
    text = written["report.md"].read_text()
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "deadline&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert '&lt;img src=x onerror="alert(2)"&gt;' in text


def test_html_report_escapes_the_same_names(written: dict[str, Path]) -> None:
    page = written["report.html"].read_text()
    assert "<script" not in page and "<img" not in page
    assert "deadline&lt;script&gt;" in page


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("a|b", "a\\|b"),
        ("[click](javascript:x)", "\\[click\\](javascript:x)"),
        ("two\nlines", "two lines"),
        ("*bold* `code` rule_id", "\\*bold\\* \\`code\\` rule\\_id"),
        ("a & b", "a &amp; b"),
    ],
)
def test_markdown_text_is_inert(text: str, shown: str) -> None:
    assert markdown_text(text) == shown
