"""One rule for policies and registries, and checked outputs, in the application layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysim.app.errors import AppError, OutputError
from policysim.app.loading import LoadError, choose_registry, load_policies, load_registry
from policysim.app.outputs import output_file, output_folder

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"
REGISTRY = EXAMPLES / "registry.csv"


def _with_bad_rows(tmp_path: Path) -> Path:
    lines = REGISTRY.read_text().splitlines()
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([*lines[:2], "X-1,x,freelancer,,2024-01-01T00:00:00Z,", *lines[2:]]))
    return path


def test_a_registry_with_a_bad_row_is_refused_whole(tmp_path: Path) -> None:
    path = _with_bad_rows(tmp_path)
    with pytest.raises(LoadError) as refused:
        load_registry(str(path))
    assert refused.value.exit_code == 2
    assert refused.value.problems == [
        f"{path}:3:18: the prefix is empty: each row registers one address or CIDR prefix"
    ]
    assert refused.value.summary == (
        f"registry {path} refused: 1 bad row, nothing loaded"
        " (--skip-bad-rows loads the other rows):"
    )


def test_skip_bad_rows_loads_the_rest_and_counts(tmp_path: Path, caplog) -> None:
    skipped = load_registry(str(_with_bad_rows(tmp_path)), skip_bad_rows=True)
    whole = load_registry(str(REGISTRY))
    assert len(skipped.problems) == 1 and whole.problems == []
    assert skipped.stats() == whole.stats()
    assert "registry row skipped" in caplog.text


def test_an_unreadable_registry_is_refused_even_when_skipping(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"missing\.csv: file not found"):
        load_registry(str(tmp_path / "missing.csv"), skip_bad_rows=True)
    header_only = tmp_path / "wrong.csv"
    header_only.write_text("a,b\n")
    with pytest.raises(LoadError, match=r"wrong\.csv:1"):
        load_registry(str(header_only), skip_bad_rows=True)


def test_no_registry_is_an_empty_one() -> None:
    assert load_registry(None).stats() == load_registry("").stats()


def test_every_policy_problem_of_every_file_at_once(tmp_path: Path) -> None:
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text("policy: x\nversion: 1\nrules:\n  - {id: r, then: deny}\ndefault: allow\n")
    two.write_text("policy: y\nversion: 1\nrules: []\ndefault: maybe\n")
    with pytest.raises(LoadError) as refused:
        load_policies([str(one), str(EXAMPLES / "pta-vpn-strict.yaml"), str(two)])
    assert refused.value.summary == "2 policy files refused:"
    assert [p.split(":")[0] for p in refused.value.problems] == [str(one), str(two)]


def test_the_registry_choice_follows_policy_test() -> None:
    [policy] = load_policies([str(EXAMPLES / "pta-vpn-2024.yaml")])
    given = choose_registry("other.csv", [policy])
    assert given.describe() == "registry: other.csv (--registry)"
    fallback = choose_registry(None, [policy])
    assert Path(fallback.path) == REGISTRY
    assert fallback.reason == "the test_registry of pta-vpn-2024"
    assert choose_registry(None, []).describe() == "registry: none (empty)"


def test_output_checks(tmp_path: Path) -> None:
    assert output_file(tmp_path / "v.jsonl") == tmp_path / "v.jsonl"
    with pytest.raises(OutputError, match="is a folder"):
        output_file(tmp_path)
    with pytest.raises(OutputError, match="does not exist"):
        output_file(tmp_path / "no" / "v.jsonl")
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="is not a folder"):
        output_file(tmp_path / "file" / "v.jsonl")
    with pytest.raises(OutputError, match="is a file"):
        output_folder(tmp_path / "file")
    assert not output_folder(tmp_path / "a", create=False).exists()
    assert output_folder(tmp_path / "a").is_dir()
    with pytest.raises(OutputError, match=r"the folder .*/b does not exist"):
        output_folder(tmp_path / "b" / "c")
    with pytest.raises(OutputError, match="is not a folder"):
        output_folder(tmp_path / "file" / "sub")
    assert issubclass(OutputError, AppError) and OutputError("x").exit_code == 2
