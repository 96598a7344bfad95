"""run_pipeline (the library call behind ``up`` and ``run``) and ``policysim dump``."""

from __future__ import annotations

import io
from collections import Counter

import orjson
import pytest
from kafka import KafkaProducer

from policysim.app.pipeline import run_pipeline
from policysim.base.settings import Settings
from policysim.cli import main
from policysim.policies.examples import EXAMPLES_DIR as EXAMPLES
from policysim.streams.kafka_config import kafka_python_kwargs

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_run_pipeline_streams_every_verdict_to_out(kafka_settings: Settings, tmp_path) -> None:
    events = [
        orjson.dumps(
            {
                "id": f"p{i}",
                "ts": 1733000400 + i,
                "src": f"39.40.1.{i % 200}",
                "sport": 1000 + i,
                "dst": "198.51.100.7",
                "dport": 51820,
                "proto": "udp",
                "app": "wireguard",
            }
        )
        for i in range(400)
    ]
    events.append(b'{"id": "broken"}')
    policies = [EXAMPLES / "pta-vpn-2024.yaml", EXAMPLES / "pta-vpn-strict.yaml"]
    out = io.BytesIO()
    sent_counts: list[int] = []
    settings = kafka_settings.replace(batch=50, linger_ms=5)
    counts = run_pipeline(
        settings, policies, EXAMPLES / "registry.csv", events, out, sent_counts.append,
        log_dir=tmp_path,
    )  # fmt: skip
    assert (counts.events_sent, counts.events_rejected) == (401, 1)
    assert (counts.events_acknowledged, counts.events_lost) == (401, 0)
    assert sum(sent_counts) == 401
    verdicts = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert Counter(v["policy"] for v in verdicts) == {"pta-vpn-2024": 400, "pta-vpn-strict": 400}
    assert {v["id"] for v in verdicts} == {f"p{i}" for i in range(400)}


def _produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(**kafka_python_kwargs(settings))
    for value in values:
        producer.send(topic, value)
    producer.flush()
    producer.close()


def test_dump_flattens_envelopes_to_json_lines(kafka_settings: Settings, tmp_path, capsys):
    topic = kafka_settings.topic_dlq
    _produce(kafka_settings, topic, [b'[{"reason": "a"}, {"reason": "b"}]', b'{"reason": "c"}'])
    out = tmp_path / "dump.jsonl"
    args = ["dump", "--topic", topic, "--out", str(out), "--idle-seconds", "1"]
    assert main([*args, "--bootstrap-server", kafka_settings.bootstrap]) == 0
    lines = out.read_bytes().splitlines()
    assert sorted(orjson.loads(line)["reason"] for line in lines) == ["a", "b", "c"]
    assert capsys.readouterr().err.endswith(f"3 objects from {topic} to {out}\n")
    again = tmp_path / "again.jsonl"
    old = ["dump", topic, "--out", str(again), "--until-idle", "1"]  # the older spellings
    assert main([*old, "--bootstrap", kafka_settings.bootstrap]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_dump_skips_messages_that_are_not_json_and_writes_to_stdout(
    kafka_settings: Settings, capsys
):
    topic = kafka_settings.topic_connections
    _produce(kafka_settings, topic, [b'{"id": "a"}', b"not json", b'{"id": "b"}'])
    args = ["dump", "--topic", topic, "--idle-seconds", "1", "--no-progress"]
    assert main([*args, "--bootstrap-server", kafka_settings.bootstrap]) == 0
    captured = capsys.readouterr()
    assert sorted(orjson.loads(line)["id"] for line in captured.out.splitlines()) == ["a", "b"]
    assert captured.err == (
        f"2 objects from {topic} to standard output (1 message was not JSON, skipped)\n"
    )


def test_dump_refuses_a_missing_folder(kafka_settings: Settings, capsys):
    args = ["dump", "--out", "/nonexistent/v.jsonl", "--bootstrap-server", kafka_settings.bootstrap]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "policysim dump: --out /nonexistent/v.jsonl: the folder /nonexistent does not exist\n"
    )
