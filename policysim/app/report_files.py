"""The impact report of a verdict file: the use case behind ``policysim report``.

``policysim run`` builds its report while it collects; this builds the same
report afterwards from verdicts that were kept, dumped from a deployment's
``verdicts`` topic, or written by ``policysim evaluate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

from policysim.app.errors import AppError
from policysim.app.loading import load_policies, load_registry
from policysim.app.outputs import output_folder
from policysim.report import ReportError, report_from_file, write_report
from policysim.report import inputs as describe
from policysim.report.builder import policy_order
from policysim.simulators.scenario import ScenarioError, load_scenario


@dataclass(frozen=True)
class ReportResult:
    """A written report: its numbers, its folder and files, and what its inputs lacked."""

    report: dict
    out: Path
    written: dict[str, Path]
    registry_rows_skipped: int = 0

    def as_dict(self) -> dict:
        """What a script needs: where the files are, the totals and each policy's headline."""
        return {
            "folder": str(self.out),
            "files": {name: str(path) for name, path in self.written.items()},
            "totals": self.report["totals"],
            "headline": self.report["headline"],
            "registry_rows_skipped": self.registry_rows_skipped,
        }


def report_from_verdicts(
    verdicts: str,
    out: str | Path,
    *,
    scenario: str | None = None,
    seed: int | None = None,
    timezone: str | None = None,
    registry: str | None = None,
    skip_bad_rows: bool = False,
    policies: list[str] | None = None,
) -> ReportResult:
    """Count a verdict file (JSON lines) into report.json, report.md and report.html in ``out``.

    The scenario gives the time zone and the deadline; the registry gives the
    exact adoption curve and the names of those hit; the policy files give
    every rule, so a rule that decided nothing is listed with 0. Everything
    is checked before the verdicts are read.
    """
    output_folder(out, create=False)
    if not Path(verdicts).is_file():
        raise AppError(f"{verdicts}: no such verdicts file")
    inputs: dict = {"software": describe.software()}
    zone = timezone or "UTC"
    registrations = None
    skipped = 0
    try:
        if scenario:
            loaded = load_scenario(scenario)
            zone = timezone or loaded.timezone
            inputs["scenario"] = describe.describe_scenario(loaded, seed, 0)
        if registry:
            records = load_registry(registry, skip_bad_rows)
            skipped = len(records.problems)
            inputs["registry"] = describe.describe_file(registry, version=records.version)
            registrations = describe.registrations(records.records())
        names = policy_order(verdicts)
        inputs["policies"] = _describe_policies(names, policies or [], verdicts)
        inputs["verdicts"] = describe.describe_file(verdicts)
        report = report_from_file(verdicts, names, zone, inputs, registrations)
    except (ScenarioError, ReportError) as exc:
        raise AppError(str(exc)) from exc
    except ZoneInfoNotFoundError as exc:
        raise AppError(f"--timezone {timezone}: unknown time zone") from exc
    except OSError as exc:
        raise AppError(f"{exc.filename or verdicts}: cannot read: {exc.strerror}") from exc
    folder = output_folder(out)
    return ReportResult(report, folder, write_report(report, folder), skipped)


def _describe_policies(names: list[str], paths: list[str], verdicts: str) -> list[dict]:
    """Each policy of the verdicts, in their order, described from its file where one is given."""
    loaded = {policy.name: policy for policy in load_policies(paths)}
    unknown = sorted(set(loaded) - set(names))
    if unknown:
        raise AppError(f"{verdicts}: holds no verdicts of policy {', '.join(unknown)}")
    described = []
    for i, name in enumerate(names):
        role = "enforced" if i == 0 else "shadow"
        policy = loaded.get(name)
        described.append(
            describe.describe_policy(policy, role) if policy else {"name": name, "role": role}
        )
    return described
