"""``policysim policy check|test``: validate policy files and run their ``tests:`` blocks.

Without FILE both work on the bundled example policies (and say so), which is
what a fresh install runs to check itself.
"""

from __future__ import annotations

import argparse
import json
import sys

from policysim.base.settings import Settings
from policysim.commands import options

FILES_HELP = "policy files (default: the bundled example policies)"


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
        " unused sets and rules that earlier rules always decide first. Exit 1 on any error"
        " (with --strict, on any warning too).",
    )
    check.add_argument("files", nargs="*", metavar="FILE", help=FILES_HELP)
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    options.add_format(check)
    check.set_defaults(handler=run_check)
    test = policy_sub.add_parser(
        "test",
        help="run the policies' tests: blocks (exit 1 on any failure)",
        description="Run each policy's `tests:` against its test_registry (or --registry)."
        " Exit 1 when a test fails, 2 when a policy or registry cannot be used.",
    )
    test.add_argument("files", nargs="*", metavar="FILE", help=FILES_HELP)
    options.add_registry(test, "default: each policy's test_registry, else an empty one")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    options.add_format(test)
    test.set_defaults(handler=run_test)


def _files(args: argparse.Namespace) -> list[str]:
    """The files given, or the bundled examples (announced on stdout for tables)."""
    from policysim.app.policy_files import bundled_policies

    if args.files:
        return args.files
    paths, sentence = bundled_policies()
    if args.format == "table":
        print(sentence)
    return paths


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 1 on any error (or, with --strict, any warning)."""
    from policysim.app.policy_files import check_policies

    files = _files(args)
    checked = check_policies(files)
    errors = sum(len(c.errors) for c in checked)
    warnings = sum(len(c.warnings) for c in checked)
    failed = bool(errors or (args.strict and warnings))
    if args.format == "json":
        summary = {"ok": not failed, "errors": errors, "warnings": warnings, "files": []}
        summary["files"] = [c.as_dict() for c in checked]
        print(json.dumps(summary, indent=2))
        return 1 if failed else 0
    for result in checked:
        for problem in result.errors:
            print(problem, file=sys.stderr)
        for warning in result.warnings:
            print(warning)
        if result.policy is not None:
            print(result.describe())
    print(f"{len(files)} file(s): {errors} error(s), {warnings} warning(s)")
    return 1 if failed else 0


def run_test(args: argparse.Namespace, settings: Settings) -> int:
    """Run every test of every file; exit 1 if any fails, 2 if any file cannot be used."""
    from policysim.app.errors import AppError
    from policysim.app.policy_files import run_policy_tests

    files = _files(args)
    try:
        runs = run_policy_tests(files, args.registry, args.skip_bad_rows)
    except AppError as exc:
        return exc.report("policy test")
    results = [r for run in runs for r in run.results]
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    if args.format == "json":
        summary = {"passed": passed, "failed": failed, "policies": [r.as_dict() for r in runs]}
        print(json.dumps(summary, indent=2))
        return 1 if failed else 0
    skipped = {r.registry.path: r.registry_rows_skipped for r in runs if r.registry_rows_skipped}
    for path, rows in skipped.items():
        print(f"registry {path}: {rows:,} bad rows skipped")
    for run in runs:
        if args.verbose:
            print(f"{run.policy.path}: {run.registry.describe()}")
        if not run.policy.tests:
            print(f"{run.policy.path}: no tests")
        for result in run.results:
            if result.passed:
                if args.verbose:
                    print(f"PASS: {run.policy.path}: {result.test.name}")
                continue
            print(f"FAIL: {result.test.position}: {result.test.name}")
            for failure in result.failures:
                print(f"    {failure}")
    print("-" * 40)
    print(f"PASS: {passed}/{passed + failed}")
    if failed:
        print(f"FAIL: {failed}/{passed + failed}")
    return 1 if failed else 0
