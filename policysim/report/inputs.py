"""What went into a run, recorded in the report so that it can be reproduced.

Files are named with their sha256, policies with their version and phases,
and the software with its version, so a reader can tell whether two reports
came from the same inputs.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
from collections.abc import Iterable
from typing import Any

from policysim import __version__
from policysim.policies.registry import RegistryRecord, to_epoch


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_policy(policy: Any, role: str) -> dict:
    """A loaded :class:`Policy` as report inputs: name, version, file, phases."""
    return {
        "name": policy.name,
        "version": policy.version,
        "role": role,
        "path": str(policy.path),
        "sha256": policy.sha256,
        "default": policy.default,
        "phases": [
            {"name": p.name, "start": _finite(p.start), "end": _finite(p.end)}
            for p in policy.phases
        ],
        "rules": [
            {"id": rule.id, "then": rule.decision or dict(rule.by_phase or {})}
            for rule in policy.rules
        ],
    }


def describe_scenario(scenario: Any, seed: int, events: int) -> dict:
    """A loaded scenario (policysim.simulators.scenario Scenario) as report inputs."""
    start, end = scenario.window
    return {
        "name": scenario.scenario,
        "path": str(scenario.path),
        "sha256": scenario.sha256,
        "seed": seed,
        "events": events,
        "timezone": scenario.timezone,
        "start": start,
        "end": end,
        "deadline": scenario.deadline_ts,
    }


def describe_file(path: str | os.PathLike[str], **extra: Any) -> dict:
    return {"path": str(path), "sha256": sha256_of(path), **extra}


def software() -> dict:
    return {"policysim": __version__, "python": platform.python_version()}


def registrations(records: Iterable[RegistryRecord]) -> list[dict]:
    """Each entity's first registration time (epoch; None = always), for the adoption curve.

    Its name and category come along, so the report can say whom a wrong decision hit.
    """
    first: dict[str, dict] = {}
    for record in records:
        if not record.prefixes:
            continue
        at = to_epoch(record.registered_at, "registered_at", -math.inf)
        at_or_none = None if at == -math.inf else at
        known = first.get(record.entity_id)
        if known is None or (known["registered_at"] is not None and _before(at_or_none, known)):
            first[record.entity_id] = {
                "entity_id": record.entity_id,
                "name": record.name,
                "category": record.category,
                "registered_at": at_or_none,
            }
    return list(first.values())


def _before(at: float | None, known: dict) -> bool:
    return at is None or at < known["registered_at"]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
