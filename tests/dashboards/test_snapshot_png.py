"""The snapshot renderer without a Prometheus: value formatting and the PNG files it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from policysim.dashboards.snapshot import PanelData, Series, format_value, render, slug


def series(legend: str, start: float, values: list[float]) -> Series:
    times = np.arange(start, start + 15 * len(values), 15.0)
    return Series(legend, times, np.array(values))


def test_format_value_follows_the_dashboard_units() -> None:
    assert format_value(0.0153, "percentunit") == "1.53 %"
    assert format_value(0.0123, "s") == "12.3 ms"
    assert format_value(2.5, "s") == "2.5 s"
    assert format_value(1234.5, "ops") == "1,234.5/s"
    assert format_value(0.05, "ops") == "0.05/s"
    assert format_value(6348, "bytes") == "6.2 KiB"
    assert format_value(float("nan"), "short") == "NaN"


def test_render_writes_one_png_per_panel_and_the_overview(tmp_path: Path) -> None:
    start = 1_700_000_000.0
    panels = [
        # Stacked series of different lengths are aligned on common times before stacking.
        PanelData(
            "Events per second by decision",
            "timeseries",
            "ops",
            True,
            [series("allow", start, [10, 12, 14]), series("block", start + 30, [1])],
        ),
        PanelData("Registry version", "stat", "none", False, [series("w1", start, [3, 4])]),
        PanelData(
            "Latency distribution",
            "heatmap",
            "",
            False,
            [series("0.1", start, [1, 2]), series("+Inf", start, [2, 3])],
        ),
        PanelData("Policies in force", "table", "", False, [series("p v1", start, [1])]),
        PanelData("Lag", "timeseries", "short", False, []),
    ]
    written = render(panels, tmp_path, "test")
    assert [p.name for p in written] == [
        "01-events-per-second-by-decision.png",
        "02-registry-version.png",
        "03-latency-distribution.png",
        "04-policies-in-force.png",
        "05-lag.png",
        "overview.png",
    ]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert slug("Flagged & blocked share (%)") == "flagged-blocked-share"
