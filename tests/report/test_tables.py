"""The headline table, per policy for files and turned a quarter for the terminal."""

from __future__ import annotations

import pytest
from report_verdicts import POLICIES, TIMEZONE, make_verdicts, write_verdict_file

from policysim.base.vocabulary import DECISIONS
from policysim.report import report_from_file
from policysim.report.tables import headline, headline_by_policy


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = tmp_path_factory.mktemp("tables") / "verdicts.jsonl"
    return report_from_file(write_verdict_file(path, make_verdicts(500, seed=3)), timezone=TIMEZONE)


def test_headline_has_a_share_column_per_decision(report: dict) -> None:
    table = headline(report)
    assert table.headers[3:6] == list(DECISIONS)
    assert [row[0] for row in table.rows] == list(POLICIES)
    assert all(len(row) == len(table.headers) for row in table.rows)


def test_headline_by_policy_is_the_same_cells_turned(report: dict) -> None:
    wide, tall = headline(report), headline_by_policy(report)
    assert tall.headers == ["policy", *POLICIES]
    assert [row[0] for row in tall.rows] == wide.headers[1:]
    for i, row in enumerate(tall.rows, start=1):
        assert row[1:] == [policy_row[i] for policy_row in wide.rows]
    assert tall.numeric == set(range(1, len(POLICIES) + 1))
