"""``policysim up``: broker, worker and a scenario's traffic, with a summary at the end."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from policysim.base.settings import Settings
from policysim.policies.examples import example_paths

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``up`` subcommand."""
    parser = sub.add_parser(
        "up",
        help="embedded broker + worker + a scenario's traffic; verdicts stay in the topic",
        description="Start the embedded broker (or use --bootstrap), one worker with the "
        "policies (the first enforced, the others shadows) and the scenario's simulator; "
        "print a summary, then keep broker, worker and /metrics up until Ctrl-C "
        "(--exit stops at once).",
    )
    parser.add_argument("--scenario", required=True, help="scenario file or bundled name")
    parser.add_argument("--policy", action="append", help="policy file (repeat; first enforced)")
    parser.add_argument("--seed", type=int, default=1, help="scenario seed (default 1)")
    parser.add_argument("--events", type=int, help="events to send as fast as possible")
    parser.add_argument("--rate", type=float, help="events per second (open loop)")
    parser.add_argument("--duration", type=float, help="seconds to send for (with --rate)")
    parser.add_argument("--batch", type=int, help="events per message (default: settings)")
    parser.add_argument("--bootstrap", help="Kafka HOST:PORT instead of the embedded broker")
    parser.add_argument("--metrics-port", type=int, help="worker metrics port (default: settings)")
    parser.add_argument("--workdir", help="folder for registry, logs (default: a temp folder)")
    parser.add_argument("--exit", action="store_true", help="stop everything after the summary")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Build the scenario, run it through the pipeline, summarise, stay up until Ctrl-C."""
    import tempfile

    from policysim.app.pipeline import Pipeline
    from policysim.app.sending import event_count
    from policysim.simulators.generator import generate_events
    from policysim.simulators.population import build_population
    from policysim.simulators.registrations import write_registry
    from policysim.simulators.scenario import ScenarioError, load_scenario

    console = Console(stderr=True)
    paths = args.policy or example_paths()
    try:
        count = event_count(args.events, args.rate, args.duration)
        scenario = load_scenario(args.scenario)
    except (ValueError, ScenarioError) as exc:
        console.print(f"policysim up: {exc}")
        return 2
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="policysim-up-"))
    workdir.mkdir(parents=True, exist_ok=True)
    settings = settings.replace(metrics_port=args.metrics_port)
    with console.status("building the population"):
        population = build_population(scenario, args.seed, settings)
        registry_path = workdir / "registry.csv"
        write_registry(population, registry_path)
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(signum, signal.default_int_handler)
    try:
        with Pipeline(settings, paths, registry_path, workdir) as pipeline:
            counts = _stream(pipeline, generate_events(population, count), count, args, console)
            _summary(console, pipeline, counts, workdir)
            if not args.exit:
                console.print("up: broker, worker and /metrics stay up; Ctrl-C stops them")
                threading.Event().wait()
    except KeyboardInterrupt:
        console.print("up: stopped")
    return 0


def _stream(pipeline, events, count: int, args: argparse.Namespace, console: Console):
    columns = (TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        sent = progress.add_task("events sent", total=count)
        return pipeline.run(
            events, None, lambda n: progress.advance(sent, n), args.rate, args.batch
        )


def _summary(console: Console, pipeline, counts, workdir: Path) -> None:
    from policysim.app.worker_process import sample_sum

    samples = pipeline.worker.metrics()
    table = Table(title="policysim up", title_justify="left")
    for column in ("policy", "enforced", "allow", "flag", "block"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    infos = [dict(labels) for (name, labels) in samples if name == "policysim_policy_info"]
    for label in sorted(infos, key=lambda info: (info["enforced"] != "true", info["policy"])):
        policy = label["policy"]
        row = [
            f"{sample_sum(samples, 'policysim_verdicts_total', policy=policy, decision=d):,.0f}"
            for d in ("allow", "flag", "block")
        ]
        table.add_row(policy, label["enforced"], *row)
    console.print(table)
    p99 = _quantile(samples, "policysim_end_to_end_seconds", 0.99)
    console.print(
        f"{counts.events_sent:,} events in {counts.messages_sent:,} messages "
        f"({counts.events_sent / max(counts.send_seconds, 1e-9):,.0f}/s offered); "
        f"{counts.events_evaluated:,} evaluated, {counts.events_rejected:,} rejected "
        f"(topic {pipeline.settings.topic_dlq}); {counts.verdicts:,} verdicts in topic "
        f"{pipeline.settings.topic_verdicts}; end-to-end p99 <= {p99:g} s"
    )
    console.print(
        f"bootstrap {pipeline.bootstrap}   metrics {pipeline.metrics_url}   files {workdir}\n"
        f"dump: policysim dump {pipeline.settings.topic_verdicts} --out verdicts.jsonl "
        f"--bootstrap {pipeline.bootstrap}"
    )


def _quantile(samples: dict, name: str, q: float) -> float:
    """Upper bucket bound holding quantile ``q`` of a histogram (0 if empty)."""
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (n, labels), value in samples.items()
        if n == f"{name}_bucket"
    )
    total = buckets[-1][1] if buckets else 0
    for bound, cumulative in buckets:
        if total and cumulative >= q * total:
            return bound
    return 0.0
