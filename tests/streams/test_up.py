"""``policysim up``: the summary as JSON, the files in --out, and bad input as sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policysim.base.settings import Settings
from policysim.cli import main
from policysim.streams.broker import free_port
from policysim.streams.kafka.cluster import unavailable_reason


@pytest.mark.kafka
@pytest.mark.slow
def test_up_sends_evaluates_and_summarises_as_json(
    kafka_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("topic_connections", "topic_verdicts", "topic_registrations", "topic_dlq"):
        monkeypatch.setenv(f"POLICYSIM_{name.upper()}", getattr(kafka_settings, name))
    monkeypatch.setenv("POLICYSIM_CONSUMER_GROUP", kafka_settings.consumer_group)
    out = tmp_path / "up"
    args = ["up", "small-isp", "--count", "300", "--exit", "--format", "json", "--no-progress"]
    args += ["--out", str(out), "--metrics-port", str(free_port())]
    assert main([*args, "--bootstrap-server", kafka_settings.bootstrap]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [(p["policy"], p["enforced"]) for p in summary["policies"]] == [
        ("pta-vpn-2024", True),
        ("pta-vpn-lenient", False),
        ("pta-vpn-strict", False),
        ("pta-vpn-wide", False),
    ]
    assert all(p["allow"] + p["flag"] + p["block"] == 300 for p in summary["policies"])
    assert (summary["events_sent"], summary["events_evaluated"], summary["verdicts"]) == (
        300,
        300,
        1200,
    )
    assert summary["files"] == str(out) and summary["bootstrap"] == kafka_settings.bootstrap
    assert (out / "registry.csv").is_file() and (out / "worker.log").is_file()


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["nosuch", "--count", "5"], "nosuch: no such scenario file or bundled scenario"),
        (["small-isp", "--count", "5", "--out", "/nonexistent/up"],
         "--out /nonexistent/up: the folder /nonexistent does not exist"),
        (["small-isp", "--rate", "-1", "--duration-seconds", "2"],
         "--rate -1: events per second must be more than 0"),
        (["small-isp", "--count", "5", "--batch", "0"], "--batch 0: at least 1 event per message"),
    ],
)  # fmt: skip
def test_up_refuses_bad_input_before_starting_anything(
    args: list[str], sentence: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["up", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"policysim up: {sentence}") and err.count("\n") == 1
    assert "Traceback" not in err


def test_up_lists_every_problem_of_a_bad_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yaml"
    assert main(["up", "small-isp", "--count", "5", "--policy", str(missing)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{missing}:")
    assert err[-1] == "policysim up: 1 of the policies did not load"


@pytest.mark.kafka
@pytest.mark.slow
def test_up_without_an_engine_starts_apache_kafka_where_it_can(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if unavailable_reason():
        pytest.skip(unavailable_reason())
    args = ["up", "small-isp", "--count", "200", "--exit", "--format", "json", "--no-progress"]
    assert main([*args, "--out", str(tmp_path), "--metrics-port", str(free_port())]) == 0
    captured = capsys.readouterr()
    assert "up: starting Apache Kafka from make kafka's jars" in captured.err
    assert json.loads(captured.out)["events_evaluated"] == 200
