"""Through the broker and the worker, a realistic scenario (registrations that follow their
subscriber, moving and shared addresses) gets the very verdicts offline evaluation gives."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from policysim.app.pipeline import Pipeline
from policysim.app.register import register_file
from policysim.app.worker_process import sample_sum
from policysim.base.settings import Settings
from policysim.cli import main
from policysim.policies.examples import DEFAULT_POLICIES, example_paths
from policysim.policies.registry_files import load_registry

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


@pytest.mark.kafka
@pytest.mark.slow
def test_registrations_on_the_topic_give_the_offline_verdicts(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """A worker that starts with no registry and learns every registration, those that follow
    a renumbered subscriber included, from the ``registrations`` topic decides as offline."""
    events, registry, updates = tmp_path / "events.jsonl", tmp_path / "r.csv", tmp_path / "r.jsonl"
    argv = ["simulate", "pta-2024", "--count", str(EVENTS), "--seed", "2", "--out", str(events)]
    assert main([*argv, "--registry-out", str(registry), "--registrations-out", str(updates)]) == 0
    policies = example_paths(DEFAULT_POLICIES)
    offline = tmp_path / "offline.jsonl"
    argv = ["evaluate", *(f"--policy={p}" for p in policies), "--registry", str(registry)]
    assert main([*argv, "--events-file", str(events), "--out", str(offline)]) == 0
    records = len(list(load_registry(str(updates)).records()))
    with Pipeline(kafka_settings, policies, None, tmp_path, metrics_port=0) as pipeline:
        assert pipeline.worker is not None
        published = register_file(
            pipeline.settings, str(updates), kafka_settings.topic_registrations
        )
        assert published.lost == 0
        pipeline.worker.wait_for(
            lambda m: (
                sample_sum(m, "policysim_registry_updates_total", outcome="applied") >= records
            ),
            120,
            "every registration applied",
        )
        streamed = tmp_path / "streamed.jsonl"
        with streamed.open("wb") as out:
            pipeline.run(events.read_bytes().splitlines(), out)
    assert _decisions(streamed) == _decisions(offline)


def _decisions(path: Path) -> list[tuple]:
    """Each verdict but its registry version, which counts changes and so differs between a
    registry loaded from one file and the same registrations applied one message at a time."""
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return sorted(
        orjson.dumps({k: v for k, v in row.items() if k != "registry_version"}) for row in rows
    )
