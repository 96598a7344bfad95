"""``policysim registry compile``: a registry file made into a snapshot that loads without parsing.

The source is validated exactly as every command validates a registry (a
file with a bad row is refused whole unless its bad rows are to be skipped),
so a snapshot only ever holds a registry some command would have accepted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from policysim.app.errors import OutputError
from policysim.app.loading import load_registry
from policysim.app.outputs import output_file


@dataclass(frozen=True)
class CompileResult:
    """What went into the snapshot and how long it took."""

    source: str
    snapshot: str
    prefixes: int
    entities: int
    registry_version: int
    bytes: int
    seconds: float
    skipped_rows: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def compile_registry(source: str, snapshot: str, skip_bad_rows: bool = False) -> CompileResult:
    """Load ``source`` (any registry file, a snapshot too) and write it to ``snapshot``."""
    from policysim.policies import registry_snapshot

    target = output_file(snapshot, "OUT")
    started = time.perf_counter()
    registry = load_registry(source, skip_bad_rows)
    try:
        registry_snapshot.save(registry, target)
    except OSError as exc:
        raise OutputError(f"OUT {target}: cannot write the snapshot: {exc.strerror}") from exc
    counts = registry.counts()
    return CompileResult(
        source,
        str(target),
        counts["ipv4"] + counts["ipv6"],
        counts["entities"],
        registry.version,
        Path(target).stat().st_size,
        time.perf_counter() - started,
        len(registry.problems),
    )
