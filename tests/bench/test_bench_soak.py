"""``policysim bench soak``: windows of latency and usage per engine, and the soak's verdict."""

from __future__ import annotations

import json

import pytest
from cli_runs import cli

from policysim.bench.pipeline import Observed
from policysim.bench.soak import EDGE_WINDOWS, Samples, Usage, verdict, window_rows


def _samples(rss_mb: list[float]) -> Samples:
    """One usage reading per window edge, 60 s apart, a CPU second per window each."""
    broker = [Usage(60.0 * k, float(k), int(mb * 2**20)) for k, mb in enumerate(rss_mb)]
    worker = [Usage(60.0 * k, 0.5 * k, 100 * 2**20) for k in range(len(rss_mb))]
    return Samples(broker, worker)


def test_a_window_holds_the_verdicts_that_arrived_in_it() -> None:
    seen = Observed()
    seen.verdicts = [
        (30.0, 100, 0.05, 0, 0, 0),
        (90.0, 100, 0.5, 0, 0, 0),
        (95.0, 50, 1.0, 0, 0, 0),
    ]
    rows = window_rows(seen, _samples([10, 20, 30]), start=0.0, every=60.0)
    assert [r["events_decided"] for r in rows] == [100, 150]
    assert rows[0]["p99_ms"] == 50.0 and rows[1]["p99_ms"] == 1000.0
    assert rows[1]["broker_rss_mb"] == 30.0 and rows[1]["broker_cpu_pct"] == pytest.approx(1.7, 0.1)


def test_the_verdict_compares_the_edges() -> None:
    rows = [
        {
            "end_s": 60 * (k + 1),
            "p99_ms": 100.0 if k < 10 else 400.0,
            "broker_rss_mb": 100.0 + 50 * k,
        }
        for k in range(20)
    ]
    found = verdict(rows)
    assert found["p99_last_over_first"] == 4.0 and not found["p99_target_met"]
    assert found["broker_rss_settled_mb"] == 100.0 + 50 * (EDGE_WINDOWS - 1)
    assert not found["broker_memory_flat"] and found["broker_rss_growth_mb_per_min"] == 50.0


@pytest.mark.kafka
@pytest.mark.slow
def test_a_short_soak_on_the_embedded_broker(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "soak", "--engine", "tansu", "--duration-seconds", "12"]
    code, out, _ = cli(
        capsys, *args, "--sample-seconds", "3", "--rate-per-second", "500", "--format", "json"
    )
    assert code == 0
    (result,) = json.loads(out)
    assert result["engine"] == "tansu" and result["events_sent"] == 6000
    assert len(result["windows"]) >= 3 and "note" in result["verdict"]
