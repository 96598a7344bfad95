"""The language commands end to end: policy check/test, evaluate (JSONL, CSV, Zeek), explain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest

from policysim.base.settings import load_settings
from policysim.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "policies" / "examples"
POLICY = str(EXAMPLES / "pta-vpn-2024.yaml")
STRICT = str(EXAMPLES / "pta-vpn-strict.yaml")
REGISTRY = str(EXAMPLES / "registry.csv")
ZEEK = (ROOT / load_settings(environ={}).data_dir / "zeek").resolve()

EVENTS = [
    {"id": "a", "ts": "2024-12-02T10:00:00+05:00", "src": "39.40.1.2", "sport": 5000,
     "dst": "203.0.113.9", "dport": 51820, "proto": "udp", "app": "wireguard"},
    {"id": "b", "ts": "2024-11-20T10:00:00+05:00", "src": "39.60.7.8", "sport": 5000,
     "dst": "203.0.113.9", "dport": 51820, "proto": "udp", "app": "wireguard"},
    {"id": "c", "ts": 1733900000, "src": "39.60.7.8", "sport": 5000,
     "dst": "203.0.113.9", "dport": 1194, "proto": "udp", "app": "openvpn"},
]  # fmt: skip


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_policy_test_passes_on_the_examples(capsys: pytest.CaptureFixture) -> None:
    assert main(["policy", "test", *map(str, sorted(EXAMPLES.glob("*.yaml")))]) == 0
    assert "PASS: 28/28" in capsys.readouterr().out


def test_policy_test_fails_on_a_wrong_expectation(tmp_path: Path, capsys) -> None:
    for name in ("registry.csv", "sets"):
        source = EXAMPLES / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, tmp_path / name)
    text = (
        Path(POLICY)
        .read_text()
        .replace(
            "expect: {decision: allow, rule: registered-source}", "expect: {decision: block}", 1
        )
    )
    (tmp_path / "p.yaml").write_text(text)
    assert main(["policy", "test", str(tmp_path / "p.yaml")]) == 1
    out = capsys.readouterr().out
    assert f"FAIL: {tmp_path / 'p.yaml'}:30:11: registered freelancer keeps WireGuard" in out
    assert "decision: expected block, got allow" in out and "FAIL: 1/10" in out


def test_policy_check(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["policy", "check", POLICY, STRICT]) == 0
    out = capsys.readouterr().out
    assert "2 file(s): 0 error(s), 0 warning(s)" in out
    assert main(["policy", "check", "--strict", POLICY, STRICT]) == 0  # the examples are clean
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy: x\nversion: 1\nrules:\n  - {id: r, then: deny}\ndefault: allow\n")
    capsys.readouterr()
    assert main(["policy", "check", str(bad), STRICT]) == 1
    captured = capsys.readouterr()
    assert f"{bad}:4:19: unknown decision 'deny'" in captured.err
    assert "1 error(s)" in captured.out


def evaluate(tmp_path: Path, events: Path, *extra: str) -> tuple[list[dict], list[dict]]:
    out = tmp_path / "verdicts.jsonl"
    argv = ["evaluate", "--policy", POLICY, "--policy", STRICT, "--registry", REGISTRY,
            "--events-file", str(events), "--out", str(out), *extra]  # fmt: skip
    assert main(argv) == 0
    rejects = tmp_path / "verdicts.rejects.jsonl"
    return read_jsonl(out), read_jsonl(rejects) if rejects.exists() else []


def test_evaluate_jsonl_in_order_with_rejects(tmp_path: Path, capsys) -> None:
    events = tmp_path / "events.jsonl"
    lines = [orjson.dumps(e) for e in EVENTS]
    lines.insert(1, b'{"id": "x", "src": "not-an-ip"}')
    lines.insert(3, b"{broken")
    events.write_bytes(b"\n".join(lines) + b"\n")
    verdicts, rejects = evaluate(tmp_path, events)
    assert [(v["id"], v["policy"], v["decision"]) for v in verdicts] == [
        ("a", "pta-vpn-2024", "allow"), ("a", "pta-vpn-strict", "allow"),
        ("b", "pta-vpn-2024", "flag"), ("b", "pta-vpn-strict", "block"),
        ("c", "pta-vpn-2024", "block"), ("c", "pta-vpn-strict", "block"),
    ]  # fmt: skip
    assert [v.get("enforced", True) for v in verdicts[:2]] == [True, False]
    assert verdicts[0]["category"] == "freelancer" and verdicts[2]["phase"] == "grace"
    assert [(r["reason"], r["source"]) for r in rejects] == [
        ("missing_field", f"{events}:2"),
        ("not_json", f"{events}:4"),
    ]
    err = capsys.readouterr().err
    assert "3 events evaluated, 2 rejected" in err and "pta-vpn-strict" in err


def test_evaluate_csv(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    header = "id,ts,src,sport,dst,dport,proto,app"
    rows = [",".join(str(e[k]) for k in header.split(",")) for e in EVENTS]
    events.write_text("\n".join([header, *rows, "z,1,1.2.3.4,1,5.6.7.8,99999,tcp,"]) + "\n")
    verdicts, rejects = evaluate(tmp_path, events, "--events-format", "csv")
    assert [v["decision"] for v in verdicts[::2]] == ["allow", "flag", "block"]
    assert len(rejects) == 1


@pytest.mark.parametrize("name", ["conn-lan-2009.tsv.log", "conn-ad.json.log"])
def test_evaluate_zeek(tmp_path: Path, name: str) -> None:
    path = ZEEK / name
    if not path.exists():
        pytest.skip(f"real Zeek data not present at {path} (settings.data_dir)")
    data_lines = [ln for ln in path.read_bytes().splitlines() if ln and not ln.startswith(b"#")]
    verdicts, rejects = evaluate(tmp_path, path, "--events-format", "zeek")
    assert len(verdicts) // 2 + len(rejects) == len(data_lines)
    assert len(verdicts) > 0 and len(verdicts) % 2 == 0
    assert {v["policy"] for v in verdicts} == {"pta-vpn-2024", "pta-vpn-strict"}


def test_explain_names_entity_prefix_and_block(capsys: pytest.CaptureFixture) -> None:
    event = {"src": "39.40.1.2", "dst": "198.51.100.7", "dport": 51820, "proto": "udp",
             "app": "wireguard", "ts": "2024-12-02T10:00:00+05:00"}  # fmt: skip
    assert main(["explain", "--policy", POLICY, "--registry", REGISTRY, json.dumps(event)]) == 0
    out = capsys.readouterr().out
    assert "ALLOW by rule 'registered-source'" in out
    assert "entity F-0001 (Ayesha Khan, freelancer) prefix 39.40.1.0/24" in out
    assert "unregistered-vpn: not tried" in out
    event["src"] = "39.60.7.8"
    event.pop("app")
    assert main(["explain", "--policy", STRICT, "--registry", REGISTRY, json.dumps(event)]) == 0
    out = capsys.readouterr().out
    assert "BLOCK by rule 'vpn-endpoint'" in out and "by block 198.51.100.0/25" in out
    assert main(["explain", "--policy", STRICT, "--registry", REGISTRY, '{"src": "x"}']) == 2
