"""``policysim registry compile``: a snapshot that every command accepts, refused when damaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runs import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "policies" / "examples"
POLICY = str(EXAMPLES / "pta-vpn-2024.yaml")
REGISTRY = str(EXAMPLES / "registry.csv")
EVENTS = [
    {"id": f"e{i}", "src": src, "dst": "198.51.100.7", "sport": 5000, "dport": 51820,
     "proto": "udp", "app": "wireguard", "ts": ts}
    for i, (src, ts) in enumerate(
        (src, ts)
        for src in ("39.40.1.2", "39.40.200.9", "8.8.8.8", "::ffff:39.40.1.2", "2400:adc0::1")
        for ts in ("2024-01-01T00:00:00+05:00", "2024-12-02T10:00:00+05:00",
                   "2026-06-01T00:00:00+05:00")
    )
]  # fmt: skip


@pytest.fixture
def snapshot(tmp_path: Path, capsys: pytest.CaptureFixture) -> Path:
    out = tmp_path / "registry.registry"
    code, printed, _ = cli(capsys, "registry", "compile", REGISTRY, str(out))
    assert code == 0
    assert printed.startswith("compiled ") and f"from {REGISTRY} into {out}" in printed
    return out


def _verdicts(capsys, tmp_path: Path, registry: str, name: str) -> list[dict]:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    out = tmp_path / name
    code, _, err = cli(capsys, "evaluate", "--policy", POLICY, "--registry", registry,
                       "--events-file", str(events), "--out", str(out))  # fmt: skip
    assert code == 0, err
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_snapshot_gives_the_same_verdicts_as_its_source(
    tmp_path: Path, snapshot: Path, capsys
) -> None:
    from_csv = _verdicts(capsys, tmp_path, REGISTRY, "csv.jsonl")
    from_snapshot = _verdicts(capsys, tmp_path, str(snapshot), "snapshot.jsonl")
    assert from_snapshot == from_csv
    assert any(v.get("category") for v in from_csv)  # some were registered


def test_compile_summary_as_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.registry"
    code, printed, _ = cli(capsys, "registry", "compile", REGISTRY, str(out), "--format", "json")
    assert code == 0
    summary = json.loads(printed)
    assert summary["snapshot"] == str(out) and summary["prefixes"] > 0
    assert summary["bytes"] == out.stat().st_size


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_a_damaged_snapshot_is_refused(tmp_path: Path, snapshot: Path, damage: str, capsys) -> None:
    data = bytearray(snapshot.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(data))
    code, _, err = cli(capsys, *_evaluate_args(tmp_path, snapshot))
    assert code == 2
    assert err.startswith(f"policysim evaluate: registry {snapshot} refused:")
    assert (
        f"{snapshot}: registry snapshot refused: snapshot checksum mismatch (corrupted or "
        "truncated); compile it again with policysim registry compile"
    ) in err
    code, _, err = cli(capsys, "registry", "compile", str(snapshot), str(tmp_path / "x.registry"))
    assert code == 2 and "registry snapshot refused" in err
    assert not (tmp_path / "x.registry").exists()


def _evaluate_args(tmp_path: Path, registry: Path) -> list[str]:
    events = tmp_path / "one.jsonl"
    events.write_text(json.dumps(EVENTS[0]) + "\n")
    return ["evaluate", "--policy", POLICY, "--registry", str(registry), "--events-file",
            str(events), "--out", str(tmp_path / "v.jsonl")]  # fmt: skip


def test_compile_refuses_a_bad_source_and_writes_nothing(tmp_path: Path, capsys) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(Path(REGISTRY).read_text() + "X-1,Bad,freelancer,not-a-prefix,,\n")
    out = tmp_path / "out.registry"
    code, _, err = cli(capsys, "registry", "compile", str(source), str(out))
    assert code == 2
    assert err.startswith(f"policysim registry compile: registry {source} refused: 1 bad row")
    assert not out.exists()


def test_compile_out_is_a_folder(tmp_path: Path, capsys) -> None:
    code, _, err = cli(capsys, "registry", "compile", REGISTRY, str(tmp_path))
    assert code == 2
    assert err.startswith(f"policysim registry compile: OUT {tmp_path} is a folder")
