"""Running the command line inside a test, as a person would see it: exit code, stdout, stderr."""

from __future__ import annotations

import pytest

from policysim.cli import main


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """Run ``policysim ARGV``; a traceback on either stream fails the test."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err
