"""``policysim policy check`` as a newcomer meets it: typos named where they are written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from policysim.cli import main

HEAD = """\
policy: p
version: 1
"""


def check(capsys: pytest.CaptureFixture[str], tmp_path: Path, body: str, *flags: str):
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + textwrap.dedent(body))
    code = main(["policy", "check", *flags, str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err, path


def test_an_unknown_category_is_a_warning_with_the_closest_known_one(capsys, tmp_path) -> None:
    body = """\
    sets:
      banks: {registry: {categories: [bnak]}}
    rules:
      - {id: banks, when: {src: {in: banks}}, then: allow}
    default: block
    """
    code, out, _, path = check(capsys, tmp_path, body)
    assert code == 0
    assert f"{path}:4:35: warning: category 'bnak'" in out and "did you mean 'bank'?" in out
    assert check(capsys, tmp_path, body, "--strict")[0] == 1


def test_app_and_proto_match_whatever_their_case(capsys, tmp_path) -> None:
    body = """\
    rules:
      - {id: wg, when: {app: WireGuard, proto: UDP}, then: block}
    default: allow
    tests:
      - name: lower-case event
        event: {src: 10.0.0.1, dst: 10.0.0.2, dport: 51820, proto: udp, app: wireguard, ts: 0}
        expect: {decision: block, rule: wg}
    """
    code, out, _, path = check(capsys, tmp_path, body, "--strict")
    assert code == 0 and "0 warning(s)" in out
    assert main(["policy", "test", str(path)]) == 0


def test_a_rule_called_default_is_refused_at_its_id(capsys, tmp_path) -> None:
    code, _, err, path = check(
        capsys, tmp_path, "rules:\n  - {id: default, then: block}\ndefault: allow\n"
    )
    assert code == 1
    assert err.startswith(f"{path}:4:10: a rule may not be called 'default'")


def test_a_missing_set_file_is_one_error(capsys, tmp_path) -> None:
    body = """\
    sets:
      endpoints: {file: nowhere.txt}
    rules:
      - {id: r, when: {dst: {in: endpoints}}, then: block}
    default: allow
    """
    code, out, err, path = check(capsys, tmp_path, body)
    assert code == 1 and "1 error(s)" in out
    assert err.count(f"{path}:") == 1 and "nowhere.txt" in err and "unknown set" not in err


def test_the_bundled_examples_pass_strict(capsys) -> None:
    assert main(["policy", "check", "--strict"]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out
