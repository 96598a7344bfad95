"""``policysim bench lookups`` measures the registry too: its rows and targets, on a tiny run."""

from __future__ import annotations

import json

import pytest

from policysim.cli import main

pytest.importorskip("pytricia")
pytest.importorskip("netaddr")


def test_lookups_reports_the_registry_rows_and_targets(capsys) -> None:
    argv = ["bench", "lookups", "--sizes", "300", "--queries", "200", "--batch", "2000",
            "--rounds", "1", "--format", "json"]  # fmt: skip
    assert main(argv) == 0
    results = json.loads(capsys.readouterr().out)
    size = results["sizes"][0]
    assert "policysim RegistryView.contains_batch" in size["batch_ipv4"]
    assert "policysim Registry.categories_batch" in size["batch_ipv4"]
    assert "policysim RegistryView.contains(ip, ts)" in size["per_event_ipv6"]
    assert set(size["registry"]) == {
        "update_seconds", "batch_after_updates_per_second", "compile_from_csv_seconds",
        "snapshot_load_seconds", "snapshot_bytes_per_prefix", "index_bytes_per_prefix",
        "snapshot_loaded_resident_bytes_per_prefix", "snapshot_resident_bytes_per_prefix",
        "snapshot_changed_resident_bytes_per_prefix", "batch_after_load_per_second",
        "first_change_after_load_seconds", "first_change_in_fresh_process_seconds",
    }  # fmt: skip
    names = [row["target"] for row in results["targets"]]
    assert "300: registry batch / numpy floor" in names
    assert "300: registry per address / IPSet" in names
