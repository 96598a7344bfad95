"""The rejects file: input lines that could not become events, kept with their reason.

Both ``policysim evaluate`` and ``policysim replay`` promise that a bad line
never silently disappears, so both write through this one writer. The file
is created only when the first rejection arrives, so a clean run leaves no
empty file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

from policysim.policies.model import Rejection, encode


class RejectsFile:
    """A JSON-lines file of :class:`~policysim.policies.model.Rejection`, opened lazily."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = 0
        self._handle: IO[bytes] | None = None

    def write(self, rejection: Rejection) -> None:
        """Append one rejection (creating the file on the first)."""
        if self._handle is None:
            self._handle = self.path.open("wb")
        self._handle.write(encode(rejection) + b"\n")
        self.count += 1

    def close(self) -> None:
        """Close the file if it was opened."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RejectsFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def default_rejects_path(out: str | None, source: str | Path) -> Path:
    """Where rejected lines go when no rejects file is named.

    Beside a file output (``OUT.rejects.jsonl``); otherwise (standard output,
    a Kafka topic) in the system's temp folder, named after the input and this
    process, so that no command writes into the current folder unasked.
    """
    if out and out != "-":
        path = Path(out)
        return path.with_name(path.name.removesuffix(".jsonl") + ".rejects.jsonl")
    name = Path(source).name.removesuffix(".gz").removesuffix(".log").removesuffix(".jsonl")
    return Path(tempfile.gettempdir()) / f"policysim-{name}-{os.getpid()}.rejects.jsonl"
