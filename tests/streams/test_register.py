"""``policysim register``: a registry file reaches the registrations topic whole, or not at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from policysim.base.settings import Settings
from policysim.cli import main

pytestmark = pytest.mark.kafka

GOOD = (
    '{"entity_id":"E-1","name":"Lahore Soft","category":"software_house",'
    '"prefixes":["39.40.0.0/24","2400:adc0::/48"],"registered_at":"2024-11-25T00:00:00+05:00"}\n'
    '{"entity_id":"E-2","name":"Karachi Calls","category":"call_center",'
    '"prefixes":["182.180.1.0/24"],"registered_at":1732000000}\n'
    '{"entity_id":"E-2","revoked_at":"2024-12-05T00:00:00+05:00"}\n'
)
BAD = '{"entity_id":"E-3","category":"bank","prefixes":["10.0.0.300/8"]}\n'


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("POLICYSIM_BOOTSTRAP", settings.bootstrap)
    monkeypatch.setenv("POLICYSIM_TOPIC_REGISTRATIONS", settings.topic_registrations)


def test_records_are_published_keyed_by_entity(
    kafka_settings: Settings,
    consume: Callable[..., list[dict]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "late.jsonl"
    path.write_text(GOOD)
    _env(monkeypatch, kafka_settings)
    assert main(["register", str(path)]) == 0
    records = consume(kafka_settings, kafka_settings.topic_registrations, expected=3)
    assert sorted(r["entity_id"] for r in records) == ["E-1", "E-2", "E-2"]
    granted = {r["entity_id"]: r for r in records if "prefixes" in r}
    assert granted["E-1"]["prefixes"] == ["39.40.0.0/24", "2400:adc0::/48"]
    assert any(r.get("revoked_at") for r in records if r["entity_id"] == "E-2")


def test_a_bad_file_is_refused_whole(
    kafka_settings: Settings,
    consume: Callable[..., list[dict]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(GOOD + BAD)
    _env(monkeypatch, kafka_settings)
    assert main(["register", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:4:") and "10.0.0.300" in err
    assert err.splitlines()[-1] == (
        f"policysim register: {path} refused: 1 bad row, nothing published "
        "(--skip-bad-rows publishes the good ones)"
    )
    assert "Traceback" not in err
    assert consume(kafka_settings, kafka_settings.topic_registrations, until_idle=1.0) == []


def test_skip_bad_rows_publishes_the_good_ones_and_counts_the_bad(
    kafka_settings: Settings,
    consume: Callable[..., list[dict]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "partly.jsonl"
    path.write_text(BAD + GOOD + BAD)
    topic = kafka_settings.topic_registrations
    args = ["register", str(path), "--bootstrap-server", kafka_settings.bootstrap]
    assert main([*args, "--topic", topic, "--skip-bad-rows"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == (
        f"published 3 records of 2 entities from {path} to {topic}; skipped 2 bad rows; "
        "3 acknowledged"
    )
    assert len(consume(kafka_settings, topic, expected=3)) == 3
