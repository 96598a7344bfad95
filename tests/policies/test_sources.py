"""Set files: text and YAML lists, with ``FILE:LINE:COLUMN: reason`` problems and strict mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysim.base.settings import Settings
from policysim.policies.addresses import parse_ip
from policysim.policies.ipset import IPSet
from policysim.policies.problems import ProblemError
from policysim.policies.sources import load_set_file, load_set_yaml
from policysim.simulators.datafiles import data_dir


def test_text_file_loads_around_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "set.txt"
    path.write_text(
        "# VPN endpoints\n10.0.0.0/8\n\n  192.0.2.1  # one host\nbogus\n2400:adc0::/32\n"
        "  10.0.0.1/8\n"
    )
    ipset, problems = load_set_file(path)
    assert ipset == IPSet.from_cidrs(["10.0.0.0/8", "192.0.2.1", "2400:adc0::/32"])
    assert [str(p) for p in problems] == [
        f"{path}:5:1: not an IP address: 'bogus'",
        f"{path}:7:3: host bits set in '10.0.0.1/8' (the network is 10.0.0.0/8)",
    ]
    with pytest.raises(ProblemError) as refused:
        load_set_file(path, strict=True)
    assert refused.value.problems == problems


def test_yaml_list_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    path.write_text('- 10.0.0.0/8\n-   10.0.0.1/8\n- {a: 1}\n- "::ffff:1.2.3.0/120"\n- 7\n')
    ipset, problems = load_set_yaml(path)
    assert ipset == IPSet.from_cidrs(["10.0.0.0/8", "1.2.3.0/24"])
    assert [(p.line, p.column) for p in problems] == [(2, 5), (3, 3), (5, 3)]
    assert "host bits set" in problems[0].message
    assert problems[1].message == "expected an address or CIDR, not a mapping"
    assert problems[2].message == "expected an address or CIDR, not a number (7)"


def test_yaml_that_is_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    path.write_text("cidrs: [10.0.0.0/8]\n")
    with pytest.raises(ProblemError, match=r"set.yaml:1:1: a set file in YAML must be a list"):
        load_set_yaml(path)
    path.write_text("- [unclosed\n")
    with pytest.raises(ProblemError, match=r"set.yaml:2:1: not valid YAML"):
        load_set_yaml(path)
    with pytest.raises(ProblemError, match=r"missing.txt: file not found$"):
        load_set_file(tmp_path / "missing.txt")
    with pytest.raises(ProblemError, match=r": is a folder, not a file$"):
        load_set_file(tmp_path)


def test_pakistan_lists_load_cleanly() -> None:
    folder = data_dir(Settings()) / "cidr"
    v4_path, v6_path = folder / "pk-ipv4.cidr", folder / "pk-ipv6.cidr"
    if not (v4_path.exists() and v6_path.exists()):
        pytest.skip(f"shared data not found at {folder}")
    v4, v4_problems = load_set_file(v4_path)
    v6, v6_problems = load_set_file(v6_path)
    assert v4_problems == [] and v6_problems == []
    assert parse_ip("39.40.1.2") in v4
    assert (v4 | v6).prefix_count(6) <= 308
    assert v6.serialized_size() < 1_000_000
