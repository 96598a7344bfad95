"""From a scenario to an impact report: the use case behind ``policysim run``.

By default the events go the whole way a deployment's would: the broker, the
Faust worker with every policy (the first enforced, the others shadows), and
back out of the ``verdicts`` topic. Offline, the same events are evaluated by
``policysim evaluate``'s loop instead. Either way the report is counted from
verdicts, so for one seed both give the same numbers.

Everything that can be refused (the output folder, the scenario, the
policies) is checked before the population is built.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from policysim.app.broker import check_engine
from policysim.app.errors import AppError
from policysim.app.evaluate import evaluate_offline
from policysim.app.loading import load_policies, load_registry
from policysim.app.outputs import output_folder
from policysim.app.report_files import ReportResult
from policysim.base.settings import Settings
from policysim.policies.engine import Engine
from policysim.policies.examples import example_paths
from policysim.policies.language import Policy
from policysim.report import ReportBuilder, ReportError, write_report
from policysim.report import inputs as describe
from policysim.report.collect import VerdictSink
from policysim.simulators.generator import generate_events
from policysim.simulators.population import build_population
from policysim.simulators.registrations import registry_records, write_registry
from policysim.simulators.scenario import ScenarioError, load_scenario

if TYPE_CHECKING:
    from rich.console import Console

    from policysim.app.pipeline import PipelineCounts


@dataclass(frozen=True)
class RunResult(ReportResult):
    """The written report and how the run went."""

    mode: str = "offline"
    events_sent: int = 0
    events_rejected: int = 0
    verdicts_received: int = 0
    seconds: float = 0.0
    events_lost: int = 0

    def as_dict(self) -> dict:
        run = {
            "mode": self.mode,
            "events_sent": self.events_sent,
            "events_lost": self.events_lost,
            "events_rejected": self.events_rejected,
            "verdicts_received": self.verdicts_received,
            "seconds": round(self.seconds, 2),
        }
        return {**super().as_dict(), "run": run}


def default_out(settings: Settings, scenario_name: str) -> Path:
    """``<report_dir>/<scenario>-<UTC time>``, the folder of a run without ``--out``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    reports = Path(settings.report_dir)
    reports.mkdir(parents=True, exist_ok=True)  # the product's own default, not a typo
    return reports / f"{scenario_name}-{stamp}"


def run_scenario(
    settings: Settings,
    scenario: str,
    policy_paths: Sequence[str] | None = None,
    out: str | Path | None = None,
    *,
    offline: bool = False,
    count: int | None = None,
    seed: int | None = None,
    keep_verdicts: bool = False,
    console: Console | None = None,
) -> RunResult:
    """Simulate ``scenario``, collect its verdicts into the report, write it to ``out``.

    ``policy_paths`` defaults to the bundled examples, ``count`` and ``seed``
    to the ``run_events`` and ``run_seed`` settings, ``out`` to
    :func:`default_out`. ``console`` shows progress bars; None shows nothing.
    Raises :class:`AppError`: exit 2 for inputs that cannot be used, 1 when
    the broker or the worker fails during the run.
    """
    if out is not None:
        output_folder(out, create=False)
    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        raise AppError(str(exc)) from exc
    policies = load_policies(policy_paths or example_paths())
    try:
        builder = ReportBuilder([p.name for p in policies], loaded.timezone)
    except ReportError as exc:
        raise AppError(str(exc)) from exc
    seed = settings.run_seed if seed is None else seed
    count = settings.run_events if count is None else count
    if count < 1:
        raise AppError(f"--count {count}: give at least one event")
    broker = None  # offline: none; else the engine started, or the bootstrap of a running one
    if not offline and settings.bootstrap:
        _check_broker(settings)
        broker = settings.bootstrap
    elif not offline:
        broker = check_engine(settings.broker_engine)
    folder = output_folder(out if out is not None else default_out(settings, loaded.scenario))

    with console.status("building the population") if console else nullcontext():
        population = build_population(loaded, seed, settings)
        registry_path = folder / "registry.csv"
        write_registry(population, registry_path)
    # Both paths read the registry back from the file, as the worker does.
    registry = load_registry(str(registry_path))
    started = time.perf_counter()
    with ExitStack() as stack:
        keep = stack.enter_context(open(folder / "verdicts.jsonl", "wb")) if keep_verdicts else None
        sent, received = stack.enter_context(_bars(console, count, count * len(policies)))
        sink = VerdictSink(builder, keep, received)
        delivery: dict[str, int] = {}  # what the broker acknowledged, through Kafka
        if offline:
            done, rejected = evaluate_offline(
                Engine(policies, registry),
                (line for _, line in generate_events(population, count)),
                sink,
                settings.evaluate_batch,
                lambda line: sent(line, True),
            )
        else:
            counts = _through_kafka(
                settings, policies, registry_path, generate_events(population, count), sink,
                lambda n: sent(n, False), folder / "logs",
            )  # fmt: skip
            done, rejected = counts.events_sent, counts.events_rejected
            delivery = {
                "broker": broker,
                "events_acknowledged": counts.events_acknowledged,
                "events_lost": counts.events_lost,
            }
    seconds = time.perf_counter() - started
    mode = "offline" if offline else "kafka"
    inputs = {
        "scenario": describe.describe_scenario(loaded, seed, done + rejected),
        "policies": [
            describe.describe_policy(p, "enforced" if i == 0 else "shadow")
            for i, p in enumerate(policies)
        ],
        "registry": describe.describe_file(
            registry_path, version=registry.version, entities=len(population.entities)
        ),
        "run": {
            "mode": mode,
            "events_sent": done,
            "events_rejected": rejected,
            **delivery,
            "verdicts_received": sink.received,
            "seconds": round(seconds, 1),
        },
        "software": describe.software(),
    }
    try:
        registrations = describe.registrations(registry_records(population))
        report = builder.result(inputs, registrations, len(population.entities))
    except ReportError as exc:
        raise AppError(str(exc), exit_code=1) from exc
    return RunResult(
        report,
        folder,
        write_report(report, folder),
        mode=mode,
        events_sent=done,
        events_rejected=rejected,
        verdicts_received=sink.received,
        seconds=seconds,
        events_lost=delivery.get("events_lost", 0),
    )


def _through_kafka(
    settings: Settings,
    policies: list[Policy],
    registry_path: Path,
    events: Iterable[tuple[str, bytes]],
    sink: VerdictSink,
    on_sent: Callable[[int], None],
    log_dir: Path,
) -> PipelineCounts:
    """The pipeline (imported here: an offline run never loads Kafka or Faust)."""
    from policysim.app.pipeline import run_pipeline
    from policysim.app.worker_process import WorkerProcessError
    from policysim.streams.broker import BrokerError

    paths = [p.path for p in policies]
    try:
        return run_pipeline(settings, paths, registry_path, events, sink, on_sent, log_dir=log_dir)
    except (BrokerError, WorkerProcessError) as exc:
        raise AppError(str(exc), exit_code=1) from exc


def _check_broker(settings: Settings) -> None:
    """A broker named by the settings must answer before any work or file is made."""
    from policysim.streams.connect import BrokerUnreachable, wait_for_broker

    try:
        wait_for_broker(settings)
    except BrokerUnreachable as exc:
        raise AppError(str(exc)) from exc


@contextmanager
def _bars(
    console: Console | None, events: int, verdicts: int
) -> Iterator[tuple[Callable[[int, bool], None], Callable[[int], None]]]:
    """Two bars, events sent and verdicts received; gives their update functions.

    The first takes ``(n, absolute)``: the offline loop reports the line it
    reached, the pipeline how many more went out.
    """
    if console is None:
        yield (lambda n, absolute: None), (lambda n: None)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        sent = progress.add_task("events sent", total=events)
        received = progress.add_task("verdicts received", total=verdicts)

        def advance_sent(n: int, absolute: bool) -> None:
            if absolute:
                progress.update(sent, completed=n)
            else:
                progress.advance(sent, n)

        yield advance_sent, lambda n: progress.advance(received, n)
