"""Waiting in tests for something another process does, failing with what did not happen."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_until(
    check: Callable[[], object], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``check()`` every ``interval`` seconds until true; fail naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {timeout} s")
        time.sleep(interval)
