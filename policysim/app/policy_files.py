"""Checking policy files and running their ``tests:``: the use cases of ``policysim policy``.

Without files, both run on the bundled example policies, so a fresh install
can check itself from any folder (``policysim policy test``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from policysim.app.loading import RegistryChoice, choose_registry, load_policies, load_registry
from policysim.policies.examples import EXAMPLES_DIR, example_paths
from policysim.policies.language import Policy, PolicyError, load_policy
from policysim.policies.language.analysis import analyse
from policysim.policies.language.policy_tests import PolicyTestResult, run_tests
from policysim.policies.registry import Registry


def bundled_policies() -> tuple[list[str], str]:
    """The bundled example policies' paths, and a sentence saying so for the output."""
    return example_paths(), f"no FILE given: the bundled example policies in {EXAMPLES_DIR}"


@dataclass(frozen=True)
class CheckedPolicy:
    """One file's check: the policy (None when refused), its errors and its warnings."""

    path: str
    policy: Policy | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """``FILE: ok: policy NAME vN, ...`` for a policy that loaded."""
        p = self.policy
        if p is None:
            return f"{self.path}: refused, {len(self.errors)} error(s)"
        return (
            f"{self.path}: ok: policy {p.name} v{p.version}, {len(p.rules)} rules,"
            f" {len(p.sets)} sets, {len(p.phases)} phases, {len(p.tests)} tests"
        )

    def as_dict(self) -> dict:
        p = self.policy
        return {
            "path": self.path,
            "ok": p is not None,
            "policy": p.name if p else None,
            "version": p.version if p else None,
            "rules": len(p.rules) if p else None,
            "tests": len(p.tests) if p else None,
            "errors": self.errors,
            "warnings": self.warnings,
        }


def check_policies(paths: Sequence[str]) -> list[CheckedPolicy]:
    """Load and analyse every file; a broken file is a result with errors, not an exception."""
    checked = []
    for path in paths:
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            checked.append(CheckedPolicy(path, None, [str(p) for p in exc.problems]))
            continue
        checked.append(CheckedPolicy(path, policy, [], [str(w) for w in analyse(policy)]))
    return checked


@dataclass(frozen=True)
class PolicyTestRun:
    """One policy's ``tests:`` outcomes and the registry they ran against."""

    policy: Policy
    registry: RegistryChoice
    results: list[PolicyTestResult]
    registry_rows_skipped: int = 0

    def as_dict(self) -> dict:
        return {
            "path": str(self.policy.path),
            "policy": self.policy.name,
            "registry": {
                "path": self.registry.path,
                "reason": self.registry.reason,
                "rows_skipped": self.registry_rows_skipped,
            },
            "tests": [
                {
                    "name": r.test.name,
                    "position": str(r.test.position),
                    "passed": r.passed,
                    "decision": r.verdict.decision,
                    "rule": r.verdict.rule,
                    "failures": list(r.failures),
                }
                for r in self.results
            ],
        }


def run_policy_tests(
    paths: Sequence[str], registry_path: str | None = None, skip_bad_rows: bool = False
) -> list[PolicyTestRun]:
    """Run every policy's tests against ``registry_path``, else its own ``test_registry``.

    Raises :class:`~policysim.app.loading.LoadError` for a policy or registry
    that cannot be used (a registry with bad rows too, unless ``skip_bad_rows``).
    """
    policies = load_policies(paths)
    registries: dict[str | None, Registry] = {}
    runs = []
    for policy in policies:
        choice = choose_registry(registry_path, [policy])
        if choice.path not in registries:
            registries[choice.path] = load_registry(choice.path, skip_bad_rows)
        registry = registries[choice.path]
        runs.append(
            PolicyTestRun(policy, choice, run_tests(policy, registry), len(registry.problems))
        )
    return runs
