"""Through the broker and the worker, a realistic scenario (registrations that follow their
subscriber, moving and shared addresses) gets the very verdicts offline evaluation gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysim.base.settings import Settings
from policysim.cli import main
from policysim.policies.examples import DEFAULT_POLICIES

EVENTS = 4000


def _verdicts(out: Path, *extra: str) -> list[bytes]:
    argv = ["run", "pta-2024", "--count", str(EVENTS), "--seed", "2", "--keep-verdicts"]
    assert main([*argv, "--out", str(out), *extra]) == 0
    return sorted((out / "verdicts.jsonl").read_bytes().splitlines())


@pytest.mark.kafka
@pytest.mark.slow
def test_streamed_verdicts_are_the_offline_ones(
    kafka_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("bootstrap", "topic_connections", "topic_verdicts", "topic_registrations"):
        monkeypatch.setenv(f"POLICYSIM_{name.upper()}", str(getattr(kafka_settings, name)))
    monkeypatch.setenv("POLICYSIM_TOPIC_DLQ", kafka_settings.topic_dlq)
    monkeypatch.setenv("POLICYSIM_CONSUMER_GROUP", kafka_settings.consumer_group)
    offline = _verdicts(tmp_path / "offline", "--offline")
    streamed = _verdicts(tmp_path / "kafka")
    assert len(offline) == len(DEFAULT_POLICIES) * EVENTS
    assert streamed == offline
