"""Commands pointed at an address where no broker answers: one sentence, exit 2, no client noise."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from policysim.cli import main
from policysim.policies.examples import EXAMPLES_DIR
from policysim.streams.broker import free_port


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch) -> str:
    """A loopback address nobody listens on; the connect wait shortened to keep tests quick."""
    monkeypatch.setenv("POLICYSIM_CONNECT_TIMEOUT_SECONDS", "0.5")
    return f"127.0.0.1:{free_port()}"


def _events(tmp_path: Path) -> str:
    path = tmp_path / "events.jsonl"
    assert main(["simulate", "small-isp", "--count", "5", "--out", str(path), "--no-progress"]) == 0
    return str(path)


COMMANDS = {
    "dump": lambda tmp: ["dump", "--out", str(tmp / "verdicts.jsonl")],
    "register": lambda tmp: ["register", str(EXAMPLES_DIR / "registry.csv")],
    "simulate": lambda tmp: ["simulate", "small-isp", "--count", "5", "--no-progress"],
    "replay": lambda tmp: ["replay", _events(tmp), "--speed", "0", "--no-progress"],
    "worker": lambda tmp: ["worker", "--policy", str(EXAMPLES_DIR / "pta-vpn-2024.yaml")],
    "up": lambda tmp: ["up", "small-isp", "--count", "5", "--exit", "--out", str(tmp / "up")],
    "run": lambda tmp: ["run", "small-isp", "--count", "5", "--out", str(tmp / "run")],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_one_sentence_naming_the_address(
    command: str,
    nowhere: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    args = COMMANDS[command](tmp_path)
    capsys.readouterr()
    caplog.set_level(logging.DEBUG)
    assert main([*args, "--bootstrap-server", nowhere]) == 2
    err = capsys.readouterr().err
    assert err == f"policysim {command}: no Kafka broker answers at {nowhere} (waited 0.5 s)\n"
    assert not [r for r in caplog.records if r.name.split(".")[0] in ("kafka", "aiokafka")]
    assert not (tmp_path / "verdicts.jsonl").exists()  # nothing written before the broker answers
    assert not (tmp_path / "up").exists() and not (tmp_path / "run").exists()


def test_the_default_wait_is_five_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    assert main(["dump", "--bootstrap-server", nowhere]) == 2
    err = capsys.readouterr().err
    assert err == f"policysim dump: no Kafka broker answers at {nowhere} (waited 5 s)\n"


def test_no_broker_named_at_all(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POLICYSIM_BOOTSTRAP", raising=False)
    monkeypatch.delenv("POLICYSIM_CONFIG", raising=False)
    assert main(["dump"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("policysim dump: no Kafka broker named: give --bootstrap-server")
    assert "Traceback" not in err
