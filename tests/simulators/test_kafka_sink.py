"""simulate and replay into the embedded broker, through every producer path."""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

from policysim.base.settings import Settings
from policysim.cli import main
from policysim.streams.envelopes import partition_of
from policysim.streams.producers import PRODUCERS
from policysim.streams.reading import iter_topic

pytestmark = pytest.mark.kafka


def _flatten(values: list[bytes]) -> list[dict]:
    out: list[dict] = []
    for value in values:
        item = json.loads(value)
        out.extend(item if isinstance(item, list) else [item])
    return out


@pytest.mark.parametrize("producer", list(PRODUCERS))
def test_simulate_to_kafka_equals_the_file(
    producer: str, kafka_settings: Settings, tmp_path: Path
) -> None:
    topic = kafka_settings.topic_connections
    common = ["simulate", "--scenario", "small-isp", "--seed", "3", "--events", "3000"]
    out = tmp_path / "events.jsonl"
    assert main([*common, "--no-progress", "--out", str(out)]) == 0
    target = f"kafka://{kafka_settings.bootstrap}/{topic}"
    args = [*common, "--no-progress", "--producer", producer, "--batch", "50", "--to", target]
    assert main(args) == 0
    records = list(iter_topic(kafka_settings, topic, until_idle=2.0, done=lambda n: False))
    events = _flatten([r.value for r in records])
    expected = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(events, key=lambda e: e["id"]) == sorted(expected, key=lambda e: e["id"])
    partitions_of_src = defaultdict(set)
    for record in records:
        headers = dict(record.headers)
        assert float(headers["sent_at"].decode("ascii")) > 1.7e9
        for event in _flatten([record.value]):
            partitions_of_src[event["src"]].add(record.partition)
            assert record.partition == partition_of(event["src"], 8)
    assert all(len(p) == 1 for p in partitions_of_src.values())
    assert len(records) < len(events)  # envelopes


def test_replay_to_kafka_keeps_single_event_messages(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    assert (
        main(
            [
                "simulate",
                "--scenario",
                "small-isp",
                "--events",
                "200",
                "--no-progress",
                "--out",
                str(source),
            ]
        )
        == 0
    )
    topic = kafka_settings.topic_connections
    target = f"kafka://{kafka_settings.bootstrap}/{topic}"
    assert main(["replay", str(source), "--speed", "0", "--no-progress", "--to", target]) == 0
    records = list(iter_topic(kafka_settings, topic, until_idle=2.0, done=lambda n: n >= 200))
    assert len(records) == 200
    assert all(r.key is not None and r.value.startswith(b"{") for r in records)


def test_replay_to_kafka_puts_rejects_in_the_temp_folder_and_names_them(
    kafka_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "in.jsonl"
    args = ["simulate", "small-isp", "--count", "20", "--no-progress", "--out", str(source)]
    assert main(args) == 0
    with source.open("ab") as handle:
        handle.write(b'{"broken": \n')
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    capsys.readouterr()
    bootstrap, topic = kafka_settings.bootstrap, kafka_settings.topic_connections
    args = ["replay", str(source), "--speed", "0", "--no-progress", "--bootstrap-server", bootstrap]
    assert main([*args, "--topic", topic]) == 0
    summary = capsys.readouterr().out
    assert "read 21 lines: sent 20 events (20 messages), rejected 1 (see " in summary
    assert "; 20 acknowledged; " in summary
    rejects = Path(summary.split("(see ")[1].split(")")[0])
    assert rejects.parent == Path(tempfile.gettempdir()) and rejects.is_file()
    assert json.loads(rejects.read_text())["reason"] == "not_json"
    rejects.unlink()
    assert list(here.iterdir()) == []
