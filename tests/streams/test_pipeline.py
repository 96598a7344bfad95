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
    sent, rejected = run_pipeline(
        settings, policies, EXAMPLES / "registry.csv", events, out, sent_counts.append,
        log_dir=tmp_path,
    )  # fmt: skip
    assert (sent, rejected) == (401, 1)
    assert sum(sent_counts) == 401
    verdicts = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert Counter(v["policy"] for v in verdicts) == {"pta-vpn-2024": 400, "pta-vpn-strict": 400}
    assert {v["id"] for v in verdicts} == {f"p{i}" for i in range(400)}


def test_dump_flattens_envelopes_to_json_lines(kafka_settings: Settings, tmp_path, capsys):
    producer = KafkaProducer(**kafka_python_kwargs(kafka_settings))
    topic = kafka_settings.topic_dlq
    producer.send(topic, b'[{"reason": "a"}, {"reason": "b"}]')
    producer.send(topic, b'{"reason": "c"}')
    producer.flush()
    producer.close()
    out = tmp_path / "dump.jsonl"
    code = main(
        ["dump", topic, "--out", str(out), "--until-idle", "1",
         "--bootstrap", kafka_settings.bootstrap]
    )  # fmt: skip
    assert code == 0
    lines = out.read_bytes().splitlines()
    assert sorted(orjson.loads(line)["reason"] for line in lines) == ["a", "b", "c"]
