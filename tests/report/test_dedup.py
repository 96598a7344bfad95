"""Each (policy, event id) is counted once, however often its verdict arrives."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from truth_world import POLICIES, iter_verdicts

from policysim.policies.model import encode
from policysim.report import ReportBuilder, report_from_file, write_report
from policysim.report.dedup import RECENT, SeenVerdicts

TIMEZONE = "Asia/Karachi"


def _numbers(report: dict) -> dict:
    """Everything counted, without what says how the verdicts arrived."""
    return {
        "events": report["totals"]["events"],
        "headline": report["headline"],
        "policies": report["policies"],
        "diffs": report["diffs"],
    }


def test_redelivered_verdicts_are_counted_once_and_reported(tmp_path: Path) -> None:
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"".join(encode(v) + b"\n" for v in iter_verdicts(3000, seed=8)))
    doubled = tmp_path / "doubled.jsonl"
    stream = list(iter_verdicts(3000, seed=8, duplicate_every=7))
    doubled.write_bytes(b"".join(encode(v) + b"\n" for v in stream))
    repeats = len(stream) - 3000 * len(POLICIES)
    assert repeats == len(range(0, 3000, 7)) * len(POLICIES)

    once = report_from_file(clean, list(POLICIES), TIMEZONE)
    twice = report_from_file(doubled, list(POLICIES), TIMEZONE)
    assert twice["totals"]["duplicate_verdicts"] == repeats
    assert twice["totals"]["events"] == 3000
    assert twice["totals"]["verdicts"] == 3000 * len(POLICIES)
    assert twice["totals"]["events_missing_verdicts"] == {}
    assert _numbers(twice) == _numbers(once)

    written = write_report(twice, tmp_path / "out")
    for name in ("report.md", "report.html"):
        assert f"{repeats:,} duplicate verdicts ignored" in written[name].read_text()


def test_a_repeat_long_after_its_event_closed_is_still_caught() -> None:
    seen = SeenVerdicts()
    for i in range(3 * RECENT):
        assert seen.first_time(i % 3, f"ev{i}")
    assert not seen.first_time(0, "ev0")  # merged into the array long ago
    assert not seen.first_time(2, f"ev{3 * RECENT - 1}")  # still among the recent
    assert seen.first_time(1, "ev0")  # the same event, another policy
    assert seen.duplicates == 2


def test_memory_is_eight_bytes_a_verdict_plus_a_bounded_rest() -> None:
    def peak(n: int) -> tuple[int, int]:
        seen = SeenVerdicts()
        tracemalloc.start()
        try:
            for i in range(n):
                seen.first_time(0, f"ev{i:08d}")
            return tracemalloc.get_traced_memory()[1], seen.bytes_held
        finally:
            tracemalloc.stop()

    (small, _), (large, held) = peak(50_000), peak(250_000)
    assert held <= 8 * 250_000
    # Growth: the merged array, and its copy while a merge runs (the recent set is bounded).
    assert large - small <= 2 * 8 * 200_000 + 512 * 1024, (small, large)


@pytest.mark.slow
def test_the_builder_ignores_a_replayed_stream_entirely() -> None:
    builder = ReportBuilder(list(POLICIES), TIMEZONE)
    verdicts = list(iter_verdicts(500, seed=2))
    builder.add_all(verdicts)
    builder.add_all(verdicts)
    assert builder.seen.duplicates == len(verdicts)
    assert builder.result()["totals"]["events"] == 500
