"""Loading what a run is made of: policies and a registry, every problem reported at once.

``evaluate``, ``explain``, ``run``, ``report`` and ``policy`` load through
here, so a bad policy or registry is refused the same way everywhere: a
:class:`LoadError` whose text lists every problem as ``FILE:LINE[:COLUMN]:
message``. The commands print it; nothing here prints.

One rule for registries: a file with bad rows is refused whole, unless the
caller asks to skip them (``--skip-bad-rows``); then the good rows load and
the number skipped is kept on the registry for the command's summary.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from policysim.app.errors import AppError
from policysim.policies import registry_files
from policysim.policies.language import Policy, PolicyError, load_policy
from policysim.policies.problems import ProblemError
from policysim.policies.registry import Registry

log = logging.getLogger(__name__)


class LoadError(AppError):
    """A policy or registry that cannot be used: a one-line summary, then every problem.

    ``str()`` is the summary followed by the problems, one a line, each
    starting with ``FILE:LINE`` so an editor can jump to it.
    """

    def __init__(self, summary: str, problems: Sequence[str] = ()) -> None:
        self.summary = summary
        self.problems = list(problems)
        super().__init__("\n".join([summary, *self.problems]))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def load_policies(paths: Sequence[str]) -> list[Policy]:
    """Load every policy; a :class:`LoadError` lists the problems of all files at once."""
    policies: list[Policy] = []
    problems: list[str] = []
    refused = 0
    for path in paths:
        try:
            policies.append(load_policy(path))
        except PolicyError as exc:
            refused += 1
            problems.extend(str(p) for p in exc.problems)
    if problems:
        raise LoadError(f"{_plural(refused, 'policy file')} refused:", problems)
    return policies


def load_registry(path: str | None, skip_bad_rows: bool = False) -> Registry:
    """The registry at ``path`` (empty for none), refused whole when any row is bad.

    With ``skip_bad_rows`` the usable rows load, each bad one is logged as a
    warning, and ``len(registry.problems)`` says how many were skipped. A file
    that cannot be read or has no usable header is refused either way.
    """
    if not path:
        return Registry()
    try:
        registry = registry_files.load_registry(path)
    except ProblemError as exc:  # RegistryError among them
        raise LoadError(f"registry {path} refused:", [str(p) for p in exc.problems]) from exc
    if registry.problems and not skip_bad_rows:
        raise LoadError(
            f"registry {path} refused: {_plural(len(registry.problems), 'bad row')}, nothing"
            " loaded (--skip-bad-rows loads the other rows):",
            [str(p) for p in registry.problems],
        )
    for problem in registry.problems:
        log.warning("registry row skipped: %s", problem)
    return registry


@dataclass(frozen=True)
class RegistryChoice:
    """Which registry file a command used, and why, for its output."""

    path: str | None
    reason: str

    def describe(self) -> str:
        """``registry: FILE (reason)`` or ``registry: none (empty)``."""
        return f"registry: {self.path} ({self.reason})" if self.path else "registry: none (empty)"


def choose_registry(given: str | None, policies: Sequence[Policy]) -> RegistryChoice:
    """``given``, else the enforced (first) policy's ``test_registry``, else none.

    The same fallback as ``policy test``, so a policy explained or tested
    without ``--registry`` sees the same registrations either way.
    """
    if given:
        return RegistryChoice(given, "--registry")
    for policy in policies[:1]:
        if policy.test_registry:
            return RegistryChoice(policy.test_registry, f"the test_registry of {policy.name}")
    return RegistryChoice(None, "empty")
