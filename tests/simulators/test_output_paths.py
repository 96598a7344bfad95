"""Where commands may write: an existing folder, never a folder as a file, never a new parent."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysim.app.errors import BadInput, RunFailed
from policysim.app.output_paths import output_file, output_folder


def test_output_file_needs_an_existing_folder_and_a_file_name(tmp_path: Path) -> None:
    assert output_file(str(tmp_path / "a.jsonl"), "--out") == str(tmp_path / "a.jsonl")
    assert output_file("-", "--out") == "-"
    assert output_file("relative.jsonl", "--out") == "relative.jsonl"  # the current folder
    with pytest.raises(BadInput, match=r"^--out .* is a folder; give a file name$"):
        output_file(str(tmp_path), "--out")
    with pytest.raises(BadInput, match=r"the folder .*/missing does not exist$"):
        output_file(str(tmp_path / "missing" / "a.jsonl"), "--rejects")
    assert not (tmp_path / "missing").exists()


def test_output_folder_is_created_only_below_an_existing_one(tmp_path: Path) -> None:
    assert output_folder(tmp_path / "new", "--out").is_dir()
    with pytest.raises(BadInput, match="does not exist"):
        output_folder(tmp_path / "a" / "b", "--out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInput, match="is a file; give a folder"):
        output_folder(tmp_path / "file", "--out")


def test_errors_print_details_then_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert BadInput("bad", ["f:1: a", "f:2: b"]).report("register") == 2
    assert capsys.readouterr().err == "f:1: a\nf:2: b\npolicysim register: bad\n"
    assert RunFailed("the worker died").report("up") == 1
