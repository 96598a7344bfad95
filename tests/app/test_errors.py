"""Failures read the same in every command: details first, then one sentence and its exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysim.app.errors import AppError, BadInput, OutputError, RunFailed
from policysim.app.outputs import output_file


def test_errors_print_details_then_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert BadInput("bad", ["f:1: a", "f:2: b"]).report("register") == 2
    assert capsys.readouterr().err == "f:1: a\nf:2: b\npolicysim register: bad\n"
    assert RunFailed("the worker died").report("up") == 1
    assert capsys.readouterr().err == "policysim up: the worker died\n"
    assert AppError("stopped", exit_code=1).exit_code == 1
    assert issubclass(OutputError, BadInput)


def test_standard_output_and_relative_files_are_fine(tmp_path: Path) -> None:
    assert str(output_file("-", "--out")) == "-"
    assert output_file("relative.jsonl") == Path("relative.jsonl")  # the current folder exists
    with pytest.raises(OutputError, match=r"^--rejects .* does not exist$"):
        output_file(tmp_path / "missing" / "a.jsonl", "--rejects")
    assert not (tmp_path / "missing").exists()
