"""``simulate`` and ``replay`` on the command line: flag spellings, bad input as sentences."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from policysim.cli import main
from policysim.simulators.rejects import default_rejects_path


def _refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run a command that must refuse: exit 2, one sentence, no traceback; return the sentence."""
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    return err.strip()


def test_new_and_old_spellings_give_the_same_events(tmp_path: Path) -> None:
    new, old = tmp_path / "new.jsonl", tmp_path / "old.jsonl"
    args = ["--seed", "4", "--rate", "20000", "--no-progress"]
    assert (
        main(["simulate", "small-isp", *args, "--duration-seconds", "0.1", "--out", str(new)]) == 0
    )
    assert main(["simulate", "--scenario", "small-isp", *args, "--duration", "0.1",
                 "--out", str(old)]) == 0  # fmt: skip
    assert new.read_bytes() == old.read_bytes()
    assert len(new.read_bytes().splitlines()) == 2000
    counted = tmp_path / "counted.jsonl"
    assert main(["simulate", "small-isp", "--events", "7", "--out", str(counted)]) == 0
    assert len(counted.read_bytes().splitlines()) == 7


@pytest.mark.parametrize(
    ("extra", "sentence"),
    [
        (["--registry-out", "/nonexistent/x.csv"],
         "--registry-out /nonexistent/x.csv: the folder /nonexistent does not exist"),
        (["--registrations-out", "/nonexistent/r.jsonl"],
         "--registrations-out /nonexistent/r.jsonl: the folder /nonexistent does not exist"),
        (["--registry-out", "OUTDIR/r.txt"],
         "--registry-out OUTDIR/r.txt: a registry is .csv or .jsonl"),
        (["--batch", "0"], "--batch 0: at least 1 event per message"),
        (["--linger-ms", "-1"], "--linger-ms -1: a wait is 0 ms or more"),
        (["--rate", "-5"], "--rate -5: events per second must be more than 0"),
        (["--duration-seconds", "3"], "give --count N or --rate R --duration-seconds D, not both"),
        (["--count", "-1"], "--count -1: a count is 0 or more"),
        (["--seed", "-1"], "--seed -1: a seed is 0 or more"),
    ],
)  # fmt: skip
def test_simulate_refuses_bad_flags(
    extra: list[str], sentence: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.jsonl"
    extra = [a.replace("OUTDIR", str(tmp_path)) for a in extra]
    sentence = sentence.replace("OUTDIR", str(tmp_path))
    args = ["simulate", "small-isp", "--count", "10", "--out", str(out), *extra]
    assert _refused(args, capsys) == f"policysim simulate: {sentence}"
    assert not out.exists()
    assert not Path("/nonexistent").exists()


def test_simulate_refuses_a_folder_as_out_and_an_unknown_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", "small-isp", "--count", "1", "--out", str(tmp_path)]
    assert (
        _refused(args, capsys)
        == f"policysim simulate: --out {tmp_path} is a folder; give a file name"
    )
    sentence = _refused(
        ["simulate", "nosuch", "--count", "1", "--out", str(tmp_path / "e")], capsys
    )
    assert sentence.startswith("policysim simulate: nosuch: no such scenario file")
    sentence = _refused(["simulate", "small-isp", "--count", "1"], capsys)
    assert sentence == (
        "policysim simulate: give exactly one of --out FILE and --bootstrap-server HOST:PORT"
    )


def test_simulate_without_a_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["simulate", "--count", "1", "--out", "-"])
    assert exited.value.code == 2
    assert "the SCENARIO argument is required" in capsys.readouterr().err


def _log(tmp_path: Path, bad_lines: int = 0) -> Path:
    path = tmp_path / "in.jsonl"
    assert main(["simulate", "small-isp", "--count", "3", "--out", str(path), "--no-progress"]) == 0
    with path.open("ab") as handle:
        handle.write(b'{"broken": \n' * bad_lines)
    return path


@pytest.mark.parametrize(
    ("extra", "sentence"),
    [
        (["--loop", "0"], "--loop 0: replay at least once"),
        (["--speed", "-1"], "--speed -1: 0 (as fast as possible) or more"),
        (["--rate", "0"], "--rate 0: events per second must be more than 0"),
        (["--start", "yesterday"], "--start yesterday: not an ISO 8601 time with an offset"),
        (["--rejects", "/nonexistent/r.jsonl"],
         "--rejects /nonexistent/r.jsonl: the folder /nonexistent does not exist"),
        (["--log-format", "csv", "--csv-map", "bogus"],
         "--csv-map: CSV mapping item 'bogus' is not FIELD=COLUMN"),
    ],
)  # fmt: skip
def test_replay_refuses_bad_flags(
    extra: list[str], sentence: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.jsonl"
    args = ["replay", str(_log(tmp_path)), "--out", str(out), *extra]
    assert _refused(args, capsys) == f"policysim replay: {sentence}"
    assert not out.exists()


def test_replay_refuses_a_missing_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.log"
    args = ["replay", str(missing), "--out", str(tmp_path / "o.jsonl")]
    expected = f"policysim replay: {missing}: cannot read: No such file or directory"
    assert _refused(args, capsys) == expected


def test_replay_rejects_go_beside_out_and_the_old_format_flag_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _log(tmp_path, bad_lines=2)
    out = tmp_path / "o.jsonl"
    args = ["replay", str(source), "--speed", "0", "--no-progress", "--format", "jsonl"]
    capsys.readouterr()
    assert main([*args, "--out", str(out)]) == 0
    rejects = tmp_path / "o.rejects.jsonl"
    assert f"rejected 2 (see {rejects})" in capsys.readouterr().out
    assert [json.loads(x)["reason"] for x in rejects.read_text().splitlines()] == ["not_json"] * 2


def test_rejects_never_land_in_the_current_folder() -> None:
    assert default_rejects_path("out/v.jsonl", "in.log") == Path("out/v.rejects.jsonl")
    for out in (None, "-"):
        path = default_rejects_path(out, "/data/conn.log.gz")
        assert path.parent == Path(tempfile.gettempdir())
        assert path.name.startswith("policysim-conn-") and path.name.endswith(".rejects.jsonl")


def test_the_final_line_says_what_the_broker_acknowledged_and_lost() -> None:
    from policysim.app.sending import acknowledgement, lost_events

    assert acknowledgement(5000, 5000, 0) == "5,000 acknowledged"
    assert acknowledgement(5000, 3000, 2000) == "5,000 sent, 3,000 acknowledged, 2,000 lost"
    sentence = lost_events(5000, 2000, "the broker restarted empty")
    assert sentence.startswith("2,000 of 5,000 events were lost (the broker restarted empty)")
