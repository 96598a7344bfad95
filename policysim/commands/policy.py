"""``policysim policy check|test``: validate policy files and run their ``tests:`` blocks.

Also home of the loaders the other policy commands share (``evaluate``,
``explain``), so a bad policy or registry is reported the same way
everywhere: every problem on stderr as ``FILE:LINE:COLUMN: message``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from policysim.app.loading import LoadError, load_policies
from policysim.base.settings import Settings
from policysim.policies.language import PolicyError, load_policy
from policysim.policies.language.analysis import analyse
from policysim.policies.language.policy_tests import registry_for_tests, run_tests
from policysim.policies.registry import RegistryError
from policysim.policies.sources import SourceError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``policy check`` and ``policy test``."""
    parser = sub.add_parser(
        "policy",
        help="check policy files or run their tests",
        description="Validate policy files (check) or run their `tests:` blocks (test).",
    )
    policy_sub = parser.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    check = policy_sub.add_parser(
        "check",
        help="validate policies and warn about rules that can never match",
        description="Refuse broken policies with every problem as FILE:LINE:COLUMN; warn about"
        " unused sets and rules that earlier rules always decide first.",
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    check.set_defaults(handler=run_check)
    test = policy_sub.add_parser(
        "test",
        help="run the policies' tests: blocks (non-zero exit on any failure)",
        description="Run each policy's `tests:` against its test_registry (or --registry).",
    )
    test.add_argument("files", nargs="+", metavar="FILE")
    test.add_argument("--registry", help="registry CSV/JSONL instead of the policy's test_registry")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    test.set_defaults(handler=run_test)


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 1 on any error (or, with --strict, any warning)."""
    errors = warnings = 0
    for path in args.files:
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            print(exc, file=sys.stderr)
            errors += len(exc.problems)
            continue
        found = analyse(policy)
        for warning in found:
            print(warning)
        warnings += len(found)
        print(
            f"{path}: ok: policy {policy.name} v{policy.version}, {len(policy.rules)} rules,"
            f" {len(policy.sets)} sets, {len(policy.phases)} phases, {len(policy.tests)} tests"
        )
    print(f"{len(args.files)} file(s): {errors} error(s), {warnings} warning(s)")
    return 1 if errors or (args.strict and warnings) else 0


def run_test(args: argparse.Namespace, settings: Settings) -> int:
    """Run every test of every file; exit 1 if any fails or any file cannot be loaded."""
    passed = failed = 0
    try:
        policies = load_policies(args.files)
        registries = {}
        for policy in policies:
            key = args.registry or policy.test_registry
            if key not in registries:
                registries[key] = registry_for_tests(policy, args.registry)
    except LoadError:
        return 1
    except (RegistryError, SourceError, OSError) as exc:
        print(f"policysim: test registry: {exc}", file=sys.stderr)
        return 1
    for policy in policies:
        registry = registries[args.registry or policy.test_registry]
        if not policy.tests:
            print(f"{policy.path}: no tests")
        for result in run_tests(policy, registry):
            if result.passed:
                passed += 1
                if args.verbose:
                    print(f"PASS: {policy.path}: {result.test.name}")
                continue
            failed += 1
            print(f"FAIL: {result.test.position}: {result.test.name}")
            for failure in result.failures:
                print(f"    {failure}")
    print("-" * 40)
    print(f"PASS: {passed}/{passed + failed}")
    if failed:
        print(f"FAIL: {failed}/{passed + failed}")
    return 1 if failed else 0
