"""A sensitivity sweep: the offline engine over a grid of scenario values (``policysim sweep``).

Each point of the grid is the scenario with some values replaced
(:mod:`policysim.app.variants`), simulated with the same seed and event
count, checked and evaluated as ``policysim run --offline`` does, its verdicts folded into
recall and collateral per policy (:class:`~policysim.report.sweep.PointTally`).

Points are independent, so they run in a pool of processes, one per core
by default; a point's numbers depend only on its scenario file, the
policies, the count and the seed, so they are the same whichever process
ran it, in whatever order. Every input is checked before the first point starts:
a bad ``--vary`` costs nothing.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policysim.app.errors import BadInput, RunFailed
from policysim.app.evaluate import numbered_events
from policysim.app.loading import load_policies
from policysim.app.outputs import output_folder
from policysim.app.progress import event_progress
from policysim.app.run import default_out
from policysim.app.variants import Parameter, Point, grid, parse_vary, variants
from policysim.base.settings import Settings
from policysim.policies.engine import Engine
from policysim.policies.examples import example_paths
from policysim.policies.guarded import evaluate_guarded
from policysim.policies.language import Policy
from policysim.policies.model import Event, Rejection, set_time_window
from policysim.report import inputs as describe
from policysim.report.sweep import PointTally, write_sweep
from policysim.simulators.generator import generate_events
from policysim.simulators.population import build_population
from policysim.simulators.registrations import build_registry
from policysim.simulators.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    resolve_scenario_path,
)

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class PointJob:
    """One point's work, as sent to a worker process."""

    index: int
    scenario: Scenario  # loaded and checked once, before any point runs
    scenario_file: str
    policy_paths: tuple[str, ...]
    count: int
    seed: int
    settings: Settings


@dataclass(frozen=True)
class SweepResult:
    """The sweep document (sweep.json), where it was written, and how long it took."""

    doc: dict
    out: Path
    written: dict[str, Path]
    seconds: float
    processes: int


def run_sweep(
    settings: Settings,
    scenario: str,
    varies: Sequence[str],
    policy_paths: Sequence[str] | None = None,
    out: str | Path | None = None,
    *,
    count: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    console: Console | None = None,
) -> SweepResult:
    """Run every point of the grid that ``varies`` spans; write sweep.json and sweep.html.

    ``varies`` are ``PATH=V1,V2,...`` texts; ``policy_paths`` default to the
    bundled examples, ``count`` and ``seed`` to the ``run_events`` and
    ``run_seed`` settings, ``out`` to ``<report_dir>/<scenario>-sweep-<time>``.
    At most ``jobs`` points run at once. Raises :class:`AppError` (exit 2)
    for inputs that cannot be used, before any point starts. The seconds
    taken count from the call, the checks included.
    """
    started = time.perf_counter()
    if out is not None:
        output_folder(out, create=False)
    count = settings.run_events if count is None else count
    seed = settings.run_seed if seed is None else seed
    if count < 1:
        raise BadInput(f"--count {count}: give at least one event")
    if jobs < 1:
        raise BadInput(f"--jobs {jobs}: give at least one process")
    parameters = [parse_vary(v) for v in varies]
    points = grid(parameters)
    try:
        base = load_scenario(resolve_scenario_path(scenario))
    except ScenarioError as exc:
        raise BadInput(str(exc)) from exc
    found = variants(Path(base.path), parameters, points)
    policies = load_policies(policy_paths or example_paths())
    paths = tuple(str(p.path) for p in policies)
    folder = output_folder(
        out if out is not None else default_out(settings, f"{base.scenario}-sweep")
    )
    (folder / "scenarios").mkdir(exist_ok=True)
    jobs_list = []
    for index, variant in enumerate(found, 1):
        file = folder / "scenarios" / f"point-{index:02d}.yaml"
        file.write_text(variant.text, encoding="utf-8")
        variant.scenario.path = str(file)  # it was checked in a scratch copy of this text
        jobs_list.append(PointJob(index, variant.scenario, str(file), paths, count, seed, settings))
    processes = min(jobs, len(jobs_list))
    with event_progress(console, disable=console is None, remaining=True) as bar:
        task = bar.add_task("sweeping", total=count * len(jobs_list))
        done = [0] * (len(jobs_list) + 1)

        def reached(index: int, line: int) -> None:
            done[index] = line
            bar.update(task, completed=sum(done))

        outcomes = _run_points(jobs_list, processes, reached)
    seconds = time.perf_counter() - started
    doc = _document(base, parameters, points, policies, jobs_list, outcomes, folder)
    return SweepResult(doc, folder, write_sweep(doc, folder), seconds, processes)


def run_point(job: PointJob, reached: Callable[[int, int], None]) -> dict:
    """Simulate and evaluate one point; its events, rejections and outcome per policy.

    Events go through the checks and the engine of ``policysim run
    --offline`` (:func:`numbered_events`, :func:`evaluate_guarded`), but the
    verdicts are folded straight into the tally instead of being written as
    JSON and read back, which saves about a third of a point's time and
    changes no number (``tests/app/test_sweep.py``).
    """
    try:
        population = build_population(job.scenario, job.seed, job.settings)
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None
    engine = Engine(load_policies(job.policy_paths), build_registry(population))
    tally = PointTally([p.name for p in engine.policies])
    lines = (line for _, line in generate_events(population, job.count))
    batch: list[Event] = []
    counts = {"events": 0, "rejected": 0}

    def fold(line: int) -> None:
        verdicts, failures = evaluate_guarded(engine, batch)
        tally.add(verdicts)
        counts["events"] += len(batch) - len(failures)
        counts["rejected"] += len(failures)
        batch.clear()
        reached(job.index, line)

    line = 0
    for line, item in numbered_events(lines):
        if isinstance(item, Rejection):
            counts["rejected"] += 1
        else:
            batch.append(item)
            if len(batch) == job.settings.evaluate_batch:
                fold(line)
    fold(line)
    return {**counts, "policies": tally.result()}


def _run_points(
    jobs: list[PointJob], processes: int, reached: Callable[[int, int], None]
) -> dict[int, dict]:
    """Every point's outcome by index: in this process for one, else in a pool."""
    if processes == 1:
        return {job.index: run_point(job, reached) for job in jobs}
    context = multiprocessing.get_context("spawn")  # no fork of a process with a live bar
    progress: Any = context.Queue()
    settings = jobs[0].settings
    years = (settings.earliest_event_year, settings.latest_event_year)
    outcomes: dict[int, dict] = {}
    with ProcessPoolExecutor(
        processes, mp_context=context, initializer=_start_worker, initargs=(progress, years)
    ) as pool:
        pending: set[Future] = set()
        indexes: dict[Future, int] = {}
        for job in jobs:
            future = pool.submit(_run_in_worker, job)
            pending.add(future)
            indexes[future] = job.index
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress, reached)
                for future in finished:
                    outcomes[indexes[future]] = future.result()
        except BrokenProcessPool as exc:
            raise RunFailed(
                "a sweep process ended abruptly (killed, or out of memory?): no sweep page"
                f" was written ({exc})"
            ) from None
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    _drain(progress, reached)
    return outcomes


_progress_queue: Any = None


def _start_worker(progress: Any, years: tuple[int, int]) -> None:
    """A pool process: where to report progress, and the event years the settings accept."""
    global _progress_queue
    _progress_queue = progress
    set_time_window(*years)


def _run_in_worker(job: PointJob) -> dict:
    return run_point(job, lambda index, line: _progress_queue.put((index, line)))


def _drain(progress: Any, reached: Callable[[int, int], None]) -> None:
    while True:
        try:
            index, line = progress.get_nowait()
        except queue.Empty:
            return
        reached(index, line)


def _document(
    base: Scenario,
    parameters: list[Parameter],
    points: list[Point],
    policies: list[Policy],
    jobs: list[PointJob],
    outcomes: dict[int, dict],
    folder: Path,
) -> dict:
    """sweep.json: what was varied, the inputs, and each point's outcome, in grid order."""
    first = jobs[0]
    return {
        "sweep": {
            "scenario": {"name": base.scenario, "path": base.path, "sha256": base.sha256},
            "count": first.count,
            "seed": first.seed,
            "policies": [
                describe.describe_policy(p, "enforced" if i == 0 else "shadow")
                for i, p in enumerate(policies)
            ],
            "software": describe.software(),
        },
        "parameters": [{"path": p.path, "values": list(p.values)} for p in parameters],
        "points": [
            {
                "index": job.index,
                "values": {p.path: v for p, v in zip(parameters, point, strict=True)},
                "scenario_file": str(Path(job.scenario_file).relative_to(folder)),
                **outcomes[job.index],
            }
            for job, point in zip(jobs, points, strict=True)
        ],
    }
