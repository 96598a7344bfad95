"""``policysim run``: from a scenario to an impact report in one command.

By default the events go the whole way a deployment's would: the embedded
broker, the Faust worker with every policy (the first enforced, the others
shadows), and back out of the ``verdicts`` topic. ``--offline`` evaluates
the same events with ``policysim evaluate``'s loop instead. Either way the
report is counted from verdicts, so for one seed both give the same numbers.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from policysim.app.evaluate import evaluate_offline
from policysim.app.loading import LoadError, load_policies, load_registry
from policysim.app.pipeline import run_pipeline
from policysim.app.worker_process import WorkerProcessError
from policysim.base.settings import Settings
from policysim.policies.engine import Engine
from policysim.policies.examples import example_paths
from policysim.policies.language import Policy
from policysim.policies.registry import Registry
from policysim.report import ReportBuilder, ReportError, tables, write_report
from policysim.report import inputs as describe
from policysim.report.collect import VerdictSink
from policysim.simulators.generator import generate_events
from policysim.simulators.population import Population, build_population
from policysim.simulators.registrations import registry_records, write_registry
from policysim.simulators.scenario import ScenarioError, load_scenario
from policysim.streams.broker import BrokerError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand."""
    parser = sub.add_parser(
        "run",
        help="simulate a scenario, enforce policies on it, write the impact report",
        description="Simulate SCENARIO, stream it through Kafka and the worker (or evaluate it"
        " offline), and write report.json, report.md and report.html to --out."
        " The first --policy is enforced, the others are shadows; without --policy the"
        " examples in policies/examples/ are used.",
    )
    parser.add_argument("scenario", help="scenario file, or the name of a bundled one")
    parser.add_argument("--policy", action="append", help="policy file (repeat; first enforced)")
    parser.add_argument("--out", help="report folder (default: reports/<scenario>-<UTC time>/)")
    parser.add_argument("--offline", action="store_true", help="no broker: evaluate offline")
    parser.add_argument("--events", type=int, help="events to simulate (default: settings)")
    parser.add_argument("--seed", type=int, help="scenario seed (default: settings)")
    parser.add_argument(
        "--keep-verdicts", action="store_true", help="also write verdicts.jsonl to the folder"
    )
    parser.add_argument("--bootstrap", help="Kafka HOST:PORT instead of the embedded broker")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Simulate, collect verdicts into the report builder, write the report, print its headline."""
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)
    paths = args.policy or example_paths()
    try:
        scenario = load_scenario(args.scenario)
        policy_list = load_policies(paths)
        builder = ReportBuilder([p.name for p in policy_list], scenario.timezone)
    except LoadError:
        return 2
    except (ScenarioError, ReportError) as exc:
        print(f"policysim run: {exc}", file=sys.stderr)
        return 2
    seed = settings.run_seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else _default_out(settings, scenario.scenario)
    out.mkdir(parents=True, exist_ok=True)
    with console.status("building the population"):
        population = build_population(scenario, seed, settings)
        registry_path = out / "registry.csv"
        write_registry(population, registry_path)
    # Both paths read the registry back from the file, as the worker does.
    try:
        registry = load_registry(str(registry_path))
    except LoadError:
        return 2
    started = time.perf_counter()
    try:
        done, rejected, received = _collect(
            args, settings, console, builder, population, policy_list, registry, registry_path, out
        )
    except (BrokerError, WorkerProcessError) as exc:
        print(f"policysim run: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    run_info = {
        "mode": "offline" if args.offline else "kafka",
        "events_sent": done,
        "events_rejected": rejected,
        "verdicts_received": received,
        "seconds": round(seconds, 1),
    }
    inputs = {
        "scenario": describe.describe_scenario(scenario, seed, done + rejected),
        "policies": [
            describe.describe_policy(p, "enforced" if i == 0 else "shadow")
            for i, p in enumerate(policy_list)
        ],
        "registry": describe.describe_file(
            registry_path, version=registry.version, entities=len(population.entities)
        ),
        "run": run_info,
        "software": describe.software(),
    }
    try:
        registrations = describe.registrations(registry_records(population))
        report = builder.result(inputs, registrations, len(population.entities))
    except ReportError as exc:
        print(f"policysim run: {exc}", file=sys.stderr)
        return 1
    written = write_report(report, out)
    _print_headline(console, report, written["report.html"], seconds)
    return 0


def _collect(
    args: argparse.Namespace,
    settings: Settings,
    console: Console,
    builder: ReportBuilder,
    population: Population,
    policy_list: list[Policy],
    registry: Registry,
    registry_path: Path,
    out: Path,
) -> tuple[int, int, int]:
    """Send the events one way or the other with progress bars; (sent, rejected, verdicts)."""
    count = settings.run_events if args.events is None else args.events
    with ExitStack() as stack:
        keep = None
        if args.keep_verdicts:
            keep = stack.enter_context(open(out / "verdicts.jsonl", "wb"))
        progress = stack.enter_context(_progress(console))
        sent = progress.add_task("events sent", total=count)
        received = progress.add_task("verdicts received", total=count * len(policy_list))
        sink = VerdictSink(builder, keep, lambda n: progress.advance(received, n))
        if args.offline:
            done, rejected = evaluate_offline(
                Engine(policy_list, registry),
                (line for _, line in generate_events(population, count)),
                sink,
                settings.evaluate_batch,
                lambda line: progress.update(sent, completed=line),
            )
        else:
            done, rejected = run_pipeline(
                settings,
                [p.path for p in policy_list],
                registry_path,
                generate_events(population, count),
                sink,
                lambda n: progress.advance(sent, n),
                log_dir=out / "logs",
            )
    return done, rejected, sink.received


def _default_out(settings: Settings, scenario_name: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(settings.report_dir) / f"{scenario_name}-{stamp}"


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _print_headline(console: Console, report: dict, html: Path, seconds: float) -> None:
    table = tables.headline(report)
    shown = RichTable(title=f"Report: {html}", title_justify="left", caption=table.note)
    for i, header in enumerate(table.headers):
        shown.add_column(header, justify="right" if i in table.numeric else "left")
    for row in table.rows:
        shown.add_row(*row)
    console.print(shown)
    totals = report["totals"]
    console.print(
        f"{totals['events']:,} events, {totals['verdicts']:,} verdicts in {seconds:.1f} s; "
        f"open {html}"
    )
    print(html.parent)
