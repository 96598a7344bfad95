"""Loading what a run is made of: policies and a registry, every problem reported at once.

``evaluate``, ``explain``, ``run`` and ``policy`` load through here, so a bad
policy or registry is reported the same way everywhere: every problem on
stderr as ``FILE:LINE:COLUMN: message``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from policysim.policies import registry_files
from policysim.policies.language import Policy, PolicyError, load_policy
from policysim.policies.registry import Registry, RegistryError
from policysim.policies.sources import SourceError

log = logging.getLogger(__name__)


class LoadError(Exception):
    """A policy or registry could not be loaded; the problems were already printed."""


def load_policies(paths: Sequence[str]) -> list[Policy]:
    """Load every policy, printing all problems of all files before giving up."""
    policies, failed = [], False
    for path in paths:
        try:
            policies.append(load_policy(path))
        except PolicyError as exc:
            print(exc, file=sys.stderr)
            failed = True
    if failed:
        raise LoadError("policy errors")
    return policies


def load_registry(path: str | None) -> Registry:
    """Load a registry; unusable lines are reported and skipped, an unreadable file is fatal."""
    if not path:
        return Registry()
    try:
        registry = registry_files.load_registry(path)
    except (RegistryError, SourceError, OSError) as exc:
        print(f"policysim: registry {path}: {exc}", file=sys.stderr)
        raise LoadError("registry error") from exc
    for problem in registry.problems:
        log.warning("registry line skipped: %s", problem)
    return registry
