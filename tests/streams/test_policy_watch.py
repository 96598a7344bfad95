"""PolicyWatcher alone: a deleted policy file is said once, counted, and the policy stays."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from policysim.policies.examples import EXAMPLES_DIR
from policysim.streams.metrics import WorkerMetrics
from policysim.streams.policy_watch import PolicyWatcher
from policysim.streams.worker import build_engine


def _value(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels or None) or 0.0


def test_a_deleted_file_keeps_the_policy_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copytree(EXAMPLES_DIR, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "pta-vpn-2024.yaml"
    engine = build_engine([path], None)
    metrics = WorkerMetrics()
    watcher = PolicyWatcher(engine, [path], metrics, 1.0)
    original = path.read_text()
    policy = engine.policies[0]
    path.unlink()
    with caplog.at_level(logging.ERROR):
        assert watcher.check() == []
        assert watcher.check() == []
    assert engine.policies[0] is policy
    assert [r.getMessage() for r in caplog.records] == [
        f"policy file {path} is gone (deleted or unreadable); policy {policy.name} stays in force"
    ]
    assert _value(metrics, "policysim_policy_reload_failures_total") == 1
    assert _value(metrics, "policysim_policy_file_missing", policy=policy.name) == 1
    path.write_text(original)
    assert watcher.check() == [0]
    assert _value(metrics, "policysim_policy_file_missing", policy=policy.name) == 0
