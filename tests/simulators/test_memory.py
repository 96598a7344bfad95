"""A large simulation streams in constant memory (events are generated lazily)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

pytestmark = pytest.mark.slow


def _peak_rss(scenario: str, events: int) -> int:
    """Peak resident bytes of ``policysim simulate`` writing ``events`` to /dev/null."""
    command = [
        sys.executable, "-m", "policysim.cli", "simulate", "--scenario", scenario,
        "--events", str(events), "--out", os.devnull, "--no-progress",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    _, stderr = process.communicate()
    assert process.returncode == 0, stderr.decode()
    return peak


@pytest.mark.parametrize("scenario", ["pta-deadline", "pta-2024"])
def test_memory_stays_flat_from_100k_to_1500k_events(scenario: str) -> None:
    small = _peak_rss(scenario, 100_000)
    large = _peak_rss(scenario, 1_500_000)
    assert large < small + 40 * 2**20, f"peak RSS grew from {small >> 20} MiB to {large >> 20} MiB"
