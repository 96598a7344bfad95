"""The command modules stay light to import, and ``bench`` works without its extra."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from policysim.cli import main

COMMANDS = ("simulate", "replay", "register", "dump", "broker", "worker", "up", "bench")
HEAVY = (
    "faust", "aiokafka", "kafka", "numpy", "rich", "matplotlib", "psutil", "pytricia", "netaddr",
)  # fmt: skip
EXTRA = ("psutil", "pytricia", "netaddr")

PROBE = """
import argparse, importlib, json, sys
parser = argparse.ArgumentParser()
sub = parser.add_subparsers()
for name in sys.argv[1:]:
    importlib.import_module("policysim.commands." + name).register(sub)
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def test_building_the_parsers_imports_no_heavy_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *COMMANDS],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == []


@pytest.fixture
def without_bench_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """As after a plain ``pip install .``: the extra's modules cannot be imported."""
    for name in EXTRA:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "policysim.bench.lookups", raising=False)


@pytest.mark.usefixtures("without_bench_extra")
def test_bench_lookups_without_the_extra_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "lookups", "--sizes", "100"]) == 2
    err = capsys.readouterr().err
    assert err == "policysim bench: needs the bench extra: pip install 'policysim[bench]'\n"


@pytest.mark.usefixtures("without_bench_extra")
def test_other_commands_work_without_the_extra(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["bench", "engine", "--count", "200", "--prefixes", "100", "--repeat", "1"]
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 200
    out = tmp_path / "e.jsonl"
    assert main(["simulate", "small-isp", "--count", "3", "--out", str(out), "--no-progress"]) == 0
    with pytest.raises(SystemExit) as shown:
        main(["bench", "lookups", "--help"])
    assert shown.value.code == 0
    assert "--format" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["engine", "--count", "0"], "bench engine: --count 0: at least 1"),
        (["lookups", "--sizes", "x"], "bench lookups: --sizes x: prefix counts separated"),
        (["produce", "--scenario", "nosuch"], "bench produce: nosuch: no such scenario file"),
        (["pipeline", "--rate", "-1"], "bench pipeline: --rate -1: more than 0"),
        (["pipeline", "--batch", "0"], "bench pipeline: --batch 0: at least 1"),
    ],
)
def test_bench_refuses_bad_flags_in_a_sentence(
    args: list[str], sentence: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"policysim {sentence}") and err.count("\n") == 1


def test_bench_json_flag_still_means_format_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "engine", "--events", "100", "--prefixes", "50", "--repeat", "1", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 100
