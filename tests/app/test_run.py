"""``policysim run``: scenario to report, offline and through Kafka, with the same numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from engines import ENGINES, skip_where_it_cannot_run

from policysim.base.settings import Settings
from policysim.cli import main
from policysim.policies.examples import DEFAULT_POLICIES, example_paths

EVENTS = 3000


def _numbers(report: dict) -> dict:
    """The report without what legitimately differs between runs (clock, mode, timings)."""
    return {k: v for k, v in report.items() if k not in ("generated_at", "inputs")}


def _run(out: Path, *extra: str) -> dict:
    code = main(["run", "pta-deadline", "--count", str(EVENTS), "--out", str(out), *extra])
    assert code == 0
    return json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def offline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("offline")
    _run(out, "--offline", "--seed", "5", "--keep-verdicts")
    return out


@pytest.fixture(scope="module")
def offline(offline_dir: Path) -> dict:
    return json.loads((offline_dir / "report.json").read_text())


def test_offline_run_writes_a_complete_report(offline: dict) -> None:
    schema = json.loads(resources.files("policysim.report").joinpath("schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(offline)
    assert offline["totals"]["events"] == EVENTS
    assert offline["totals"]["verdicts"] == 4 * EVENTS
    assert offline["totals"]["events_missing_verdicts"] == {}
    inputs = offline["inputs"]
    assert inputs["scenario"]["seed"] == 5
    assert len(inputs["scenario"]["sha256"]) == 64
    assert [p["role"] for p in inputs["policies"]] == ["enforced", "shadow", "shadow", "shadow"]
    assert all(len(p["sha256"]) == 64 for p in inputs["policies"])
    assert inputs["policies"][0]["phases"], "the deadline policy's phases are recorded"
    assert inputs["run"]["mode"] == "offline"
    assert offline["timeline"]["adoption"]["source"] == "registry"


def test_same_seed_same_report(offline: dict, tmp_path: Path) -> None:
    again = _run(tmp_path / "again", "--offline", "--seed", "5")
    assert _numbers(again) == _numbers(offline)


def test_report_command_recounts_kept_verdicts(offline: dict, offline_dir: Path) -> None:
    out = offline_dir / "again"
    verdicts, registry = offline_dir / "verdicts.jsonl", offline_dir / "registry.csv"
    args = ["report", str(verdicts), "--out", str(out), "--scenario", "pta-deadline"]
    assert main([*args, "--registry", str(registry)]) == 0
    again = json.loads((out / "report.json").read_text())
    for key in ("totals", "headline", "policies", "diffs", "timezone", "window"):
        assert _without_rule_list(again[key]) == _without_rule_list(offline[key]), key
    # Without the policy files, only the rules seen in verdicts can be listed.
    assert not again["policies"][0]["rule_summary"]["rules_known"]
    assert offline["policies"][0]["rule_summary"]["rules_known"]
    assert again["inputs"]["verdicts"]["sha256"]


def _without_rule_list(part):
    if isinstance(part, list):
        return [{k: v for k, v in p.items() if k != "rule_summary"} for p in part]
    return part


def test_report_command_with_the_policy_files_lists_every_rule(
    offline: dict, offline_dir: Path
) -> None:
    out = offline_dir / "with-policies"
    verdicts, registry = offline_dir / "verdicts.jsonl", offline_dir / "registry.csv"
    policies = [f"--policy={path}" for path in example_paths(DEFAULT_POLICIES)]
    args = ["report", str(verdicts), "--out", str(out), "--scenario", "pta-deadline"]
    assert main([*args, "--registry", str(registry), *policies]) == 0
    again = json.loads((out / "report.json").read_text())
    for key in ("totals", "headline", "policies", "diffs", "timezone", "window"):
        assert again[key] == offline[key], key


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_a_run_on_its_own_broker_gives_the_offline_numbers(
    offline: dict, engine: str, tmp_path: Path
) -> None:
    """``run --engine E`` starts a broker of that engine, and its report equals offline."""
    skip_where_it_cannot_run(engine)
    streamed = _run(tmp_path / "kafka", "--seed", "5", "--engine", engine)
    assert streamed["inputs"]["run"]["mode"] == "kafka"
    assert streamed["inputs"]["run"]["broker"] == engine
    assert _numbers(streamed) == _numbers(offline)


@pytest.mark.kafka
@pytest.mark.slow
def test_a_run_on_a_running_broker_gives_the_offline_numbers(
    offline: dict, kafka_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("bootstrap", "topic_connections", "topic_verdicts", "topic_registrations"):
        monkeypatch.setenv(f"POLICYSIM_{name.upper()}", str(getattr(kafka_settings, name)))
    monkeypatch.setenv("POLICYSIM_TOPIC_DLQ", kafka_settings.topic_dlq)
    monkeypatch.setenv("POLICYSIM_CONSUMER_GROUP", kafka_settings.consumer_group)
    streamed = _run(tmp_path / "kafka", "--seed", "5")
    assert streamed["inputs"]["run"]["broker"] == kafka_settings.bootstrap
    assert _numbers(streamed) == _numbers(offline)


def test_run_summary_as_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "json"
    argv = ["run", "small-isp", "--offline", "--count", "500", "--out", str(out)]
    assert main([*argv, "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["folder"] == str(out)
    assert summary["files"]["report.html"] == str(out / "report.html")
    assert summary["run"]["mode"] == "offline" and summary["run"]["events_sent"] == 500
    assert summary["totals"]["events"] == 500
    assert [h["role"] for h in summary["headline"]] == ["enforced", "shadow", "shadow", "shadow"]


def test_run_headline_fits_80_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["run", "small-isp", "--offline", "--count", "500", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{tmp_path}\n"
    assert "pta-vpn-strict" in captured.err and "precision" in captured.err
    assert max(len(line) for line in captured.err.splitlines()) <= 80


@pytest.mark.slow
def test_a_fresh_folder_is_enough(tmp_path: Path) -> None:
    """Nothing on the path reads the checkout or the current folder, or writes there unasked."""
    run = ["run", "small-isp", "--offline", "--count", "20000", "--out", "out"]
    for argv in (run, ["policy", "test"], ["policy", "check"]):
        result = subprocess.run(
            [sys.executable, "-m", "policysim", *argv], cwd=tmp_path, capture_output=True,
            text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["totals"]["events"] == 20000
