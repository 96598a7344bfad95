"""Run a policy's ``tests:`` blocks, like ``opa test``.

Each test event goes through both evaluation paths (the scalar one and a
batch of all the policy's tests); a test passes only when both give the
expected decision, rule and phase, so the examples also guard the two
paths against drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from policysim.policies.engine import Engine
from policysim.policies.language.ast import Policy, PolicyTest
from policysim.policies.model import Verdict
from policysim.policies.registry import Registry
from policysim.policies.registry_files import load_registry


@dataclass(frozen=True)
class PolicyTestResult:
    """One test's outcome; ``failures`` says what differed."""

    test: PolicyTest
    verdict: Verdict
    failures: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.failures


def registry_for_tests(policy: Policy, override: str | Path | None = None) -> Registry:
    """The tests' registry: ``override``, else the policy's ``test_registry``, else empty."""
    path = override or policy.test_registry
    return load_registry(path, strict=True) if path else Registry()


def run_tests(policy: Policy, registry: Registry) -> list[PolicyTestResult]:
    """Evaluate every test of ``policy`` and compare with its expectations."""
    engine = Engine([policy], registry)
    batch = engine.evaluate([t.event for t in policy.tests])[0]
    return [
        PolicyTestResult(t, one, tuple(_failures(t, one, many)))
        for t, many in zip(policy.tests, batch, strict=True)
        for one in engine.evaluate_one(t.event)
    ]


def _failures(test: PolicyTest, verdict: Verdict, batch_verdict: Verdict) -> list[str]:
    problems = []
    if verdict != batch_verdict:
        problems.append(f"batch path gave {batch_verdict.decision} by {batch_verdict.rule}")
    if verdict.decision != test.expect_decision:
        problems.append(f"decision: expected {test.expect_decision}, got {verdict.decision}")
    if test.checks_rule and verdict.rule != test.expect_rule:
        problems.append(f"rule: expected {_rule(test.expect_rule)}, got {_rule(verdict.rule)}")
    if test.checks_phase and verdict.phase != test.expect_phase:
        problems.append(f"phase: expected {test.expect_phase}, got {verdict.phase}")
    return problems


def _rule(rule_id: str | None) -> str:
    return rule_id if rule_id is not None else "(default)"
