"""The README stays a short front door whose commands, links and command table are real."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from policysim.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced code block, in order."""
    return FENCE.findall(text)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser`` by name (empty when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_table_rows(text: str) -> list[str]:
    """The first cell of each row of the table under ``## Commands``."""
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `policysim ")]
    return [row.split("`")[1] for row in rows]


def readme_command_lines() -> list[str]:
    """Every ``policysim ...`` command in the README's shell blocks, continuations joined."""
    commands = []
    for language, body in fenced_blocks(README.read_text()):
        if language not in ("sh", "text"):
            continue
        joined = body.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.removeprefix("$ ").strip()
            if line.startswith("policysim "):
                commands.append(line)
    return commands


def test_readme_is_short() -> None:
    lines = README.read_text().count("\n")
    assert lines <= 260, f"README.md has {lines} lines; move reference material to docs/"


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text()
    language, body = fenced_blocks(text)[0]
    assert text.index("```") < text.index("\n## "), "the commands come before any section"
    commands = [line.split("#", 1)[0].strip() for line in body.splitlines() if line.strip()]
    assert (language, commands) == ("sh", ["make run", "make test"])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(page: Path) -> None:
    missing = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            missing.append(target)
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_command_table_names_real_subcommands() -> None:
    top = subparsers(build_parser())
    cells = command_table_rows(README.read_text())
    assert len(cells) >= 10
    for cell in cells:
        words = cell.split()[1:]
        assert words[0] in top, f"`{cell}`: no subcommand {words[0]!r}"
        nested = subparsers(top[words[0]])
        if nested and len(words) > 1 and re.fullmatch(r"[a-z][a-z|-]*", words[1]):
            for name in words[1].split("|"):
                assert name in nested, f"`{cell}`: no `policysim {words[0]} {name}`"


@pytest.mark.parametrize("command", readme_command_lines(), ids=lambda c: " ".join(c.split()[:2]))
def test_readme_commands_parse(command: str, capsys: pytest.CaptureFixture) -> None:
    """Every command the README shows is accepted by the parser as written."""
    argv = shlex.split(command, comments=True)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`{command}` does not parse: {capsys.readouterr().err.strip()} ({exc})")
