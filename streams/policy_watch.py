"""Hot reload of policy files: a changed file is validated, then swapped in whole or refused.

The file's content hash, not its modification time alone, decides whether it
changed, so an editor that rewrites a file without changes does not count as
a reload. A file that fails to load leaves the old policy deciding; its
problems are logged (``FILE:LINE:COLUMN: message``) and counted. A file that
disappears (deleted, or no longer readable) also leaves the old policy
deciding: that is logged once and counted, and shown by a gauge until the file
is back, when it is loaded as a changed file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from policysim.policies.language import PolicyError, load_policy
from policysim.streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class PolicyWatcher:
    """Check ``paths`` every ``interval`` seconds; swap changed, valid policies into ``engine``."""

    def __init__(
        self,
        engine: object,
        paths: Sequence[str | Path],
        metrics: WorkerMetrics,
        interval: float,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.paths = [Path(p) for p in paths]
        self.metrics = metrics
        self.interval = interval
        self.on_change = on_change
        self._seen = [_digest(p) for p in self.paths]

    def check(self) -> list[int]:
        """One pass: reload what changed; return the indexes swapped in."""
        swapped = []
        for index, path in enumerate(self.paths):
            digest = _digest(path)
            if digest == self._seen[index]:
                continue
            self._seen[index] = digest
            name = self.engine.policies[index].name
            self.metrics.policy_file_missing.labels(name).set(1 if digest is None else 0)
            if digest is None:
                self.metrics.policy_reload_failures.inc()
                log.error(
                    "policy file %s is gone (deleted or unreadable); policy %s stays in force",
                    path,
                    name,
                )
                continue
            try:
                policy = load_policy(path)
            except PolicyError as exc:
                self.metrics.policy_reload_failures.inc()
                log.error("policy %s refused; the old one stays in force:\n%s", path, exc)
                continue
            self.engine.replace_policy(index, policy)
            self.metrics.policy_reloads.inc()
            log.info("policy %s reloaded: %s version %s", path, policy.name, policy.version)
            swapped.append(index)
        if swapped and self.on_change is not None:
            self.on_change()
        return swapped

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check()
