"""``bench pipeline --engine tansu,apache``: engines named once each, figures side by side."""

from __future__ import annotations

import pytest

from policysim.bench.pipeline import STAGES, side_by_side_rows
from policysim.cli import main


@pytest.mark.parametrize(
    ("engines", "sentence"),
    [
        ("tansu,nosuch", "bench pipeline: broker engine 'nosuch': choose one of tansu, apache"),
        ("tansu,tansu", "bench pipeline: --engine tansu,tansu: name each engine once"),
    ],
)
def test_bench_pipeline_refuses_bad_engines_in_a_sentence(
    engines: str, sentence: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "pipeline", "--engine", engines]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"policysim {sentence}") and err.count("\n") == 1


def _result(engine: str, p50: float) -> dict:
    figures = {"p50_ms": p50, "p95_ms": p50 * 2, "p99_ms": p50 * 3, "max_ms": p50 * 4}
    return {
        "engine": engine,
        "input_rate": 1000.0,
        "verdict_rate": 999.0,
        "max_lag": 3,
        "end_to_end": figures,
        "broker_floor_raw_consumer": figures,
        "stages": {name: figures for name, _doc in STAGES},
        "ceilings": {
            "raw_aiokafka": {"messages_per_s": 50000.0},
            "faust_noop_agent": {"messages_per_s": 10000.0},
            "worker_drain": {"events_per_s": 8000.0},
            "worker_vs_noop_messages": 0.8,
        },
    }


def test_side_by_side_has_a_cell_per_engine_for_every_figure() -> None:
    rows = dict(side_by_side_rows([_result("tansu", 50.0), _result("apache", 5.0)]))
    assert rows["end to end p50 / p99, ms"] == ["50.0 / 150.0", "5.0 / 15.0"]
    assert rows["worker / no-op agent, messages"] == ["0.8", "0.8"]
    assert all(len(cells) == 2 for cells in rows.values())
    assert {f"stage {name} p50 / p99, ms" for name, _doc in STAGES} <= rows.keys()
