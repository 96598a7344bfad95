"""report.html in a real browser: headless Chromium renders its charts and tables, no errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from report_verdicts import TIMEZONE, make_verdicts, write_verdict_file

from policysim.base.palette import DECISION_COLORS as COLORS
from policysim.report import report_from_file, write_report
from policysim.report.charts import CHARTS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("browser")
    verdicts = write_verdict_file(base / "verdicts.jsonl", make_verdicts(2000, seed=4))
    report = report_from_file(verdicts, timezone=TIMEZONE, inputs={"scenario": {"name": "toy"}})
    return write_report(report, base / "out")["report.html"]


def test_page_renders_charts_and_tables_without_console_errors(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    run = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
    pixels = matplotlib.image.imread(shot)[:, :, :3]
    assert pixels.shape[:2] == (2400, 1280)
    drawn = (pixels < 0.95).any(axis=2).mean()
    assert drawn > 0.05, f"only {drawn:.1%} of the page is not white"
    block_red = np.array([int(COLORS["block"][i : i + 2], 16) / 255 for i in (1, 3, 5)])
    assert (np.abs(pixels - block_red).max(axis=2) < 0.03).sum() > 500, "no blocked bars drawn"


def test_dom_has_every_chart_and_table(page: Path, tmp_path: Path) -> None:
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    for name in CHARTS:
        assert re.search(rf'id="chart-{name}"[^>]*>.*?<svg', dom, re.S), name
    assert dom.count("<table") >= 10


def test_the_page_never_scrolls_sideways_at_1280_px(page: Path, tmp_path: Path) -> None:
    """Wide tables scroll inside their own box; the page itself fits a 1280 px window."""
    probe = tmp_path / "probe.html"
    measure = "document.title = 'width ' + document.documentElement.scrollWidth"
    probe.write_text(page.read_text() + f"<script>{measure}</script>")
    dom = _chromium(tmp_path, "--window-size=1280,2400", "--dump-dom", probe.as_uri()).stdout
    width = int(re.search(r"<title>width (\d+)</title>", dom).group(1))
    assert width <= 1280
    assert dom.count('<div class="wide"><table') == dom.count("<table")
