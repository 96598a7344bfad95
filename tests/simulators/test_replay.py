"""Replay: gaps scaled by speed, loops with unique ids, shifted times, counted rejects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policysim.base.settings import Settings
from policysim.cli import main
from policysim.policies.model import Event, decode_event, encode
from policysim.simulators.datafiles import data_dir
from policysim.simulators.replay import ReplayCounts, ReplayOptions, replay_items

ZEEK_TSV = data_dir(Settings()) / "zeek" / "conn-lan-2009.tsv.log"


def _write_events(path: Path, times: list[float], bad_lines: int = 0) -> None:
    lines = [
        encode(
            Event(id=f"e{i}", ts=t, src="10.0.0.1", sport=1, dst="10.0.0.2", dport=2, proto="udp")
        )
        for i, t in enumerate(times)
    ]
    lines += [b'{"broken": '] * bad_lines
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_offsets_follow_recorded_gaps_scaled_by_speed(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    _write_events(path, [100.0, 101.0, 100.5, 104.0])
    counts = ReplayCounts()
    items = list(replay_items(path, ReplayOptions(speed=10.0), counts, lambda r: None))
    assert [offset for offset, _, _ in items] == pytest.approx([0.0, 0.1, 0.05, 0.4])
    fixed = list(replay_items(path, ReplayOptions(rate=4.0), ReplayCounts(), lambda r: None))
    assert [offset for offset, _, _ in fixed] == [0.0, 0.25, 0.5, 0.75]
    fast = list(replay_items(path, ReplayOptions(speed=0), ReplayCounts(), lambda r: None))
    assert {offset for offset, _, _ in fast} == {None}


def test_loops_keep_ids_unique_and_move_forward_and_start_shifts(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    _write_events(path, [100.0, 102.0, 101.0], bad_lines=1)
    counts, rejected = ReplayCounts(), []
    options = ReplayOptions(speed=0, loops=3, start=1_000.0)
    items = list(replay_items(path, options, counts, rejected.append))
    events = [decode_event(value) for _, _, value in items]
    assert [e.id for e in events] == [
        "e0",
        "e1",
        "e2",
        "e0~1",
        "e1~1",
        "e2~1",
        "e0~2",
        "e1~2",
        "e2~2",
    ]
    assert [e.ts for e in events] == [1000, 1002, 1001, 1003, 1005, 1004, 1006, 1008, 1007]
    assert (counts.read, counts.rejected, len(rejected)) == (12, 3, 3)
    assert rejected[0].source == f"{path}:4" and rejected[0].reason == "not_json"


def test_cli_replays_a_real_zeek_log_and_counts_add_up(tmp_path: Path, capsys) -> None:
    if not ZEEK_TSV.is_file():
        pytest.skip(f"shared data absent: {ZEEK_TSV}")
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    args = ["replay", str(ZEEK_TSV), "--speed", "0", "--loop", "2", "--no-progress"]
    args += ["--start", "2024-11-25T10:00:00+05:00", "--out", str(out), "--rejects", str(rejects)]
    assert main(args) == 0
    summary = capsys.readouterr().out
    lines = out.read_text().splitlines()
    rejected = rejects.read_text().splitlines() if rejects.exists() else []
    assert len(lines) == 2 * 2164 - len(rejected)
    assert f"read {2 * 2164:,} lines: sent {len(lines):,} events" in summary
    first = json.loads(lines[0])
    assert first["ts"] == 1732510800.0 and first["id"] == "CcH8zVkCER7UopU1j"
    assert len({json.loads(line)["id"] for line in lines}) == len(lines)


def test_cli_rejects_go_to_the_file(tmp_path: Path, capsys) -> None:
    source, out, rejects = tmp_path / "in.jsonl", tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    _write_events(source, [1.0, 2.0], bad_lines=2)
    args = ["replay", str(source), "--speed", "0", "--no-progress", "--out", str(out)]
    assert main([*args, "--rejects", str(rejects)]) == 0
    assert "read 4 lines: sent 2 events (2 messages), rejected 2" in capsys.readouterr().out
    assert [json.loads(x)["reason"] for x in rejects.read_text().splitlines()] == ["not_json"] * 2


def test_cli_takes_the_events_file_as_evaluate_does(tmp_path: Path, capsys) -> None:
    """``--events-file``/``--events-format`` mean the same in ``replay`` and ``evaluate``."""
    source, out = tmp_path / "in.log", tmp_path / "o.jsonl"
    _write_events(source, [1.0, 2.0, 3.0])
    args = ["replay", "--events-file", str(source), "--events-format", "jsonl", "--speed", "0"]
    assert main([*args, "--no-progress", "--out", str(out)]) == 0
    assert "sent 3 events" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 3
