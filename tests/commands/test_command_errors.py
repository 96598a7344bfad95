"""Errors are sentences: the message, the exit code, and never a traceback.

Also the rules that every command shares: one way to treat a registry with bad
rows, the registry ``explain`` uses, and the bundled examples without FILE.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runs import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "policies" / "examples"
POLICY = str(EXAMPLES / "pta-vpn-2024.yaml")
REGISTRY = str(EXAMPLES / "registry.csv")
EVENT = {"src": "39.40.1.2", "dst": "198.51.100.7", "dport": 51820, "proto": "udp",
         "app": "wireguard", "ts": "2024-12-02T10:00:00+05:00"}  # fmt: skip
EVENT_LINE = json.dumps({"id": "a", "sport": 5000, **EVENT})


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text(EVENT_LINE + "\n")
    return path


@pytest.fixture
def verdicts(tmp_path: Path, events: Path, capsys: pytest.CaptureFixture) -> Path:
    out = tmp_path / "verdicts.jsonl"
    code, _, _ = cli(capsys, *_evaluate(events, out))
    assert code == 0
    return out


@pytest.fixture
def bad_registry(tmp_path: Path) -> Path:
    """The example registry with two bad rows, at lines 3 and 4."""
    lines = Path(REGISTRY).read_text().splitlines()
    bad = ["X-1,Bad prefix,freelancer,not-a-prefix,2024-01-01T00:00:00Z,", "X-2,Too short"]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([*lines[:2], *bad, *lines[2:]]) + "\n")
    return path


def _evaluate(events: Path, out: Path | str, *extra: str) -> list[str]:
    return ["evaluate", "--policy", POLICY, "--registry", REGISTRY,
            "--events-file", str(events), "--out", str(out), *extra]  # fmt: skip


# --- --out that cannot be written ----------------------------------------------------------


def test_evaluate_out_is_a_folder(tmp_path: Path, events: Path, capsys) -> None:
    code, _, err = cli(capsys, *_evaluate(events, tmp_path))
    assert code == 2
    assert err.startswith(f"policysim evaluate: --out {tmp_path} is a folder; give a file name")


def test_evaluate_out_in_a_missing_folder(tmp_path: Path, events: Path, capsys) -> None:
    out = tmp_path / "missing" / "verdicts.jsonl"
    code, _, err = cli(capsys, *_evaluate(events, out))
    assert code == 2
    assert f"the folder {tmp_path / 'missing'} does not exist" in err
    assert not (tmp_path / "missing").exists()


def test_evaluate_out_is_a_folder_from_the_console_script(tmp_path: Path, events: Path) -> None:
    argv = [sys.executable, "-m", "policysim", *_evaluate(events, tmp_path)]
    result = subprocess.run(argv, capture_output=True, text=True)
    assert result.returncode == 2
    assert "is a folder" in result.stderr and "Traceback" not in result.stderr


def test_run_out_is_a_file(tmp_path: Path, events: Path, capsys) -> None:
    code, _, err = cli(capsys, "run", "small-isp", "--offline", "--out", str(events))
    assert code == 2
    assert err == (
        f"policysim run: --out {events} is a file; give a folder (it is created if missing)\n"
    )


def test_report_out_is_a_file(verdicts: Path, events: Path, capsys) -> None:
    code, _, err = cli(capsys, "report", str(verdicts), "--out", str(events))
    assert code == 2
    assert err.startswith(f"policysim report: --out {events} is a file")


def test_report_refusals_create_no_folder(tmp_path: Path, verdicts: Path, capsys) -> None:
    out = tmp_path / "report"
    code, _, err = cli(capsys, "report", str(verdicts), "--out", str(out), "--timezone", "Mars/X")
    assert code == 2 and err == "policysim report: --timezone Mars/X: unknown time zone\n"
    code, _, err = cli(capsys, "report", str(tmp_path / "none.jsonl"), "--out", str(out))
    assert code == 2 and "none.jsonl: no such verdicts file" in err
    assert not out.exists()


def test_run_refusals(tmp_path: Path, capsys) -> None:
    out = tmp_path / "report"
    code, _, err = cli(capsys, "run", "no-such-scenario", "--offline", "--out", str(out))
    assert code == 2 and "policysim run: no-such-scenario: no such scenario file" in err
    code, _, err = cli(capsys, "run", "small-isp", "--offline", "--count", "0", "--out", str(out))
    assert code == 2 and err == "policysim run: --count 0: give at least one event\n"
    assert not out.exists()


def test_a_missing_policy_file_is_a_sentence(tmp_path: Path, events: Path, capsys) -> None:
    argv = _evaluate(events, tmp_path / "v.jsonl")
    argv[argv.index(POLICY)] = str(tmp_path / "gone.yaml")
    code, _, err = cli(capsys, *argv)
    assert code == 2
    assert err.startswith("policysim evaluate: 1 policy file refused:\n")
    assert f"{tmp_path / 'gone.yaml'}: file not found" in err


# --- one rule for registries with bad rows -------------------------------------------------


def _registry_commands(events: Path, verdicts: Path, registry: Path, tmp_path: Path) -> dict:
    explain = ["explain", "--policy", POLICY, "--registry", str(registry), json.dumps(EVENT)]
    return {
        "evaluate": _evaluate(events, tmp_path / "again.jsonl", "--registry", str(registry)),
        "explain": explain,
        "policy test": ["policy", "test", POLICY, "--registry", str(registry)],
        "report": [
            "report",
            str(verdicts),
            "--out",
            str(tmp_path / "r"),
            "--registry",
            str(registry),
        ],
    }


@pytest.mark.parametrize("command", ["evaluate", "explain", "policy test", "report"])
def test_bad_registry_rows_are_refused(
    command: str, events: Path, verdicts: Path, bad_registry: Path, tmp_path: Path, capsys
) -> None:
    argv = _registry_commands(events, verdicts, bad_registry, tmp_path)[command]
    code, _, err = cli(capsys, *argv)
    assert code == 2
    assert err.splitlines() == [
        f"policysim {command}: registry {bad_registry} refused: 2 bad rows, nothing loaded"
        " (--skip-bad-rows loads the other rows):",
        f"{bad_registry}:3:27: bad prefix: not an IP address: 'not-a-prefix'",
        f"{bad_registry}:4: this row has 2 fields but the header has 6 "
        "(entity_id,name,category,prefix,registered_at,expires_at): "
        "a field is missing or there is a comma too many",
    ]


@pytest.mark.parametrize("command", ["evaluate", "explain", "policy test", "report"])
def test_skip_bad_rows_goes_on_and_says_how_many(
    command: str, events: Path, verdicts: Path, bad_registry: Path, tmp_path: Path, capsys
) -> None:
    argv = _registry_commands(events, verdicts, bad_registry, tmp_path)[command]
    code, out, err = cli(capsys, *argv, "--skip-bad-rows")
    assert code == 0
    assert "2 bad rows skipped" in out + err


def test_skipped_rows_are_in_the_json_summary(
    events: Path, bad_registry: Path, tmp_path: Path, capsys
) -> None:
    argv = _evaluate(events, tmp_path / "v.jsonl", "--registry", str(bad_registry))
    code, out, _ = cli(capsys, *argv, "--skip-bad-rows", "--format", "json")
    assert code == 0
    assert json.loads(out)["registry"] == {"path": str(bad_registry), "rows_skipped": 2}


# --- explain's registry ------------------------------------------------------------------------


def test_explain_uses_the_policys_test_registry(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = cli(capsys, "explain", "--policy", POLICY, json.dumps(EVENT))
    assert code == 0
    assert out.splitlines()[0] == f"registry: {REGISTRY} (the test_registry of pta-vpn-2024)"
    assert "entity F-0001 (Ayesha Khan, freelancer) prefix 39.40.1.0/24" in out
    code, given, _ = cli(capsys, "explain", "--policy", POLICY, "--registry", REGISTRY,
                         json.dumps(EVENT))  # fmt: skip
    assert given.splitlines()[0] == f"registry: {REGISTRY} (--registry)"
    assert given.splitlines()[1:] == out.splitlines()[1:]


def test_explain_without_any_registry_says_so(tmp_path: Path, capsys) -> None:
    shutil.copytree(EXAMPLES / "sets", tmp_path / "sets")
    text = Path(POLICY).read_text()
    (tmp_path / "p.yaml").write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("test_registry"))
    )
    code, out, _ = cli(capsys, "explain", "--policy", str(tmp_path / "p.yaml"), json.dumps(EVENT))
    assert code == 0
    assert out.splitlines()[0] == "registry: none (empty)"
    code, out, _ = cli(
        capsys, "explain", "--policy", str(tmp_path / "p.yaml"), json.dumps(EVENT), "--json"
    )
    shown = json.loads(out)
    assert shown["registry"] == {"path": None, "reason": "empty", "rows_skipped": 0}
    assert shown["explanations"][0]["policy"] == "pta-vpn-2024"


def test_explain_bad_event(capsys: pytest.CaptureFixture) -> None:
    code, _, err = cli(capsys, "explain", "--policy", POLICY, "{not json")
    assert code == 2 and err.startswith("policysim explain: the event is not JSON:")
    code, _, err = cli(capsys, "explain", "--policy", POLICY, '{"src": "x"}')
    assert code == 2 and err.startswith("policysim explain: bad event (")
    code, _, err = cli(capsys, "explain", "--policy", POLICY, "@/nonexistent/event.json")
    assert code == 2 and err.startswith("policysim explain: cannot read the event from @/")


# --- bundled examples and JSON summaries ---------------------------------------------------


def test_policy_commands_without_files_use_the_bundled_examples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "policy", "test")
    assert code == 0
    assert out.startswith("no FILE given: the bundled example policies in ")
    assert "PASS: 28/28" in out
    code, out, _ = cli(capsys, "policy", "check")
    assert code == 0 and "4 file(s): 0 error(s), 0 warning(s)" in out
    assert list(tmp_path.iterdir()) == []


def test_policy_summaries_as_json(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = cli(capsys, "policy", "check", "--format", "json")
    checked = json.loads(out)
    assert code == 0 and checked["ok"] and checked["errors"] == 0 and checked["warnings"] == 0
    assert [f["policy"] for f in checked["files"]] == [
        "pta-vpn-2024",
        "pta-vpn-strict",
        "pta-vpn-lenient",
        "pta-vpn-wide",
    ]
    code, out, _ = cli(capsys, "policy", "test", POLICY, "--format", "json")
    tested = json.loads(out)
    assert code == 0 and tested["passed"] == 10 and tested["failed"] == 0
    assert tested["policies"][0]["registry"]["path"] == REGISTRY


def test_evaluate_summary_as_json(tmp_path: Path, events: Path, capsys) -> None:
    code, out, _ = cli(capsys, *_evaluate(events, tmp_path / "v.jsonl", "--format", "json"))
    assert code == 0
    summary = json.loads(out)
    assert summary["events"] == 1 and summary["rejected"] == 0
    assert summary["policies"] == [
        {"policy": "pta-vpn-2024", "version": 3, "role": "enforced", "allow": 1, "flag": 0,
         "block": 0, "total": 1},
    ]  # fmt: skip


def test_evaluate_to_stdout_keeps_rejects_out_of_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    events = work / "events.jsonl"
    events.write_text(EVENT_LINE + "\n{broken\n")
    monkeypatch.chdir(work)
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    code, out, err = cli(capsys, *_evaluate(events, "-", "--format", "json"))
    assert code == 0
    verdict_line, *summary = out.splitlines()
    assert json.loads(verdict_line)["decision"] == "allow" and summary == []
    rejects_file = Path(json.loads(err)["rejects_file"])
    assert rejects_file.parent == temp and rejects_file.name.endswith(".rejects.jsonl")
    assert sorted(p.name for p in work.iterdir()) == ["events.jsonl"]


def test_config_as_json(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = cli(capsys, "config", "--format", "json")
    shown = json.loads(out)
    assert code == 0
    assert shown["run_events"] == {
        "value": 200_000,
        "env": "POLICYSIM_RUN_EVENTS",
        "help": "events `policysim run` simulates unless --count",
    }


def test_report_summary_as_json(tmp_path: Path, verdicts: Path, capsys) -> None:
    out_dir = tmp_path / "report"
    code, out, _ = cli(capsys, "report", str(verdicts), "--out", str(out_dir), "--format", "json")
    summary = json.loads(out)
    assert code == 0
    assert summary["files"]["report.html"] == str(out_dir / "report.html")
    assert summary["totals"]["verdicts"] == 1
    assert summary["headline"][0]["policy"] == "pta-vpn-2024"
