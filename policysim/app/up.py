"""``policysim up``: broker, worker and a scenario's traffic, with a summary at the end.

The embedded broker (or the cluster at ``--bootstrap-server``), one worker
with the policies (the first enforced, the others shadows) and the scenario's
events streamed through them; then a summary per policy, and broker, worker
and ``/metrics`` stay up for dashboards until Ctrl-C (unless ``exit_after``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from policysim.app.broker import ENGINE_TITLES, check_engine, pick_engine
from policysim.app.errors import BadInput, RunFailed
from policysim.app.outputs import output_folder
from policysim.app.progress import event_progress
from policysim.app.sending import event_count
from policysim.app.simulate import checked_seed, load_checked_scenario
from policysim.base.settings import Settings
from policysim.base.vocabulary import DECISIONS


@dataclass(frozen=True)
class UpRequest:
    """What ``policysim up`` was asked for."""

    scenario: str
    policies: Sequence[str]  # empty: the bundled examples
    seed: int
    count: int | None
    rate: float | None
    duration_seconds: float | None
    batch: int | None
    out: str | None  # folder for the registry and the logs; None: a new temp folder
    stay_up: bool = True
    progress: bool = True


@dataclass
class PolicyRow:
    """One policy's verdicts in the summary."""

    policy: str
    enforced: bool
    allow: int
    flag: int
    block: int


@dataclass
class UpSummary:
    """What ``up`` prints once the events are through: per policy, then the totals."""

    policies: list[PolicyRow] = field(default_factory=list)
    events_sent: int = 0
    messages_sent: int = 0
    events_acknowledged: int = 0
    events_lost: int = 0
    offered_per_second: float = 0.0
    events_evaluated: int = 0
    events_rejected: int = 0
    verdicts: int = 0
    end_to_end_p99_seconds: float = 0.0
    topic_verdicts: str = ""
    topic_dlq: str = ""
    bootstrap: str = ""
    metrics_url: str = ""
    files: str = ""

    def as_json(self) -> dict[str, Any]:
        """The summary for ``--format json``."""
        return asdict(self)

    def table(self) -> Any:
        """The per-policy table for people (a rich Table)."""
        from rich.table import Table

        table = Table(title="policysim up", title_justify="left")
        for column in ("policy", "enforced", *DECISIONS):
            table.add_column(column, justify="left" if column == "policy" else "right")
        for row in self.policies:
            counts = (f"{getattr(row, d):,}" for d in DECISIONS)
            table.add_row(row.policy, "yes" if row.enforced else "shadow", *counts)
        return table

    def lines(self) -> list[str]:
        """The totals and where everything is, short lines under the table (80 columns)."""
        return [
            f"{self.events_sent:,} events sent in {self.messages_sent:,} messages "
            f"({self.offered_per_second:,.0f}/s offered)",
            f"{self.events_acknowledged:,} acknowledged by the broker"
            + (f", {self.events_lost:,} LOST" if self.events_lost else ""),
            f"{self.events_evaluated:,} evaluated, {self.events_rejected:,} rejected "
            f"(topic {self.topic_dlq})",
            f"{self.verdicts:,} verdicts in topic {self.topic_verdicts}; "
            f"end-to-end p99 <= {self.end_to_end_p99_seconds:g} s",
            f"bootstrap  {self.bootstrap}",
            f"metrics    {self.metrics_url}",
            f"files      {self.files}",
            "the verdicts as JSON lines:",
            f"  policysim dump --bootstrap-server {self.bootstrap} --out verdicts.jsonl",
        ]


def _policy_paths(request: UpRequest) -> list[str]:
    """The policies to enforce, each checked: BadInput with every problem of every file."""
    from policysim.policies.examples import example_paths
    from policysim.policies.language import PolicyError, load_policy

    paths = [str(p) for p in (request.policies or example_paths())]
    problems = []
    for path in paths:
        try:
            load_policy(path)
        except PolicyError as exc:
            problems.append(str(exc))
        except OSError as exc:
            problems.append(f"{path}: cannot read: {exc.strerror}")
    if problems:
        raise BadInput(f"{len(problems)} of the policies did not load", problems)
    return paths


def up(
    settings: Settings,
    request: UpRequest,
    show: Callable[[UpSummary], None],
    say: Callable[[str], None],
) -> None:
    """Run the scenario through broker and worker, ``show`` the summary, stay up until Ctrl-C.

    ``say`` takes the short status lines (staying up, stopped); both go to the
    command, which decides how they are printed.
    """
    import tempfile

    from rich.console import Console

    from policysim.app.pipeline import Pipeline
    from policysim.app.worker_process import WorkerProcessError
    from policysim.simulators.generator import generate_events
    from policysim.simulators.population import build_population
    from policysim.simulators.registrations import write_registry
    from policysim.simulators.scenario import ScenarioError
    from policysim.streams.broker import BrokerError
    from policysim.streams.connect import BrokerUnreachable, wait_for_broker
    from policysim.streams.kafka_config import KafkaConfigError

    count = event_count(request.count, request.rate, request.duration_seconds)
    seed = checked_seed(request.seed)
    if request.batch is not None and request.batch < 1:
        raise BadInput(f"--batch {request.batch}: at least 1 event per message")
    scenario = load_checked_scenario(request.scenario)
    paths = _policy_paths(request)
    chosen = False  # whether auto picked the engine, which the user is then told
    if settings.bootstrap:  # a cluster named: is it there, before anything is built or written?
        try:
            wait_for_broker(settings)
        except (KafkaConfigError, BrokerUnreachable) as exc:
            raise BadInput(str(exc)) from exc
    else:
        engine = pick_engine(settings.broker_engine, long_runs=True)
        check_engine(engine)
        chosen = engine != settings.broker_engine
        settings = settings.replace(broker_engine=engine)
    if request.out:
        workdir = output_folder(request.out, "--out")
    else:
        workdir = Path(tempfile.mkdtemp(prefix="policysim-up-"))
    console = Console(stderr=True)
    with console.status("building the population"):
        try:
            population = build_population(scenario, seed, settings)
        except ScenarioError as exc:
            raise BadInput(str(exc)) from exc
        registry_path = workdir / "registry.csv"
        write_registry(population, registry_path)
    if not settings.bootstrap and chosen:
        say(f"up: starting {ENGINE_TITLES[settings.broker_engine]}: it holds up in long runs"
            " (--engine tansu for the embedded broker)")  # fmt: skip
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(signum, signal.default_int_handler)
    try:
        with Pipeline(settings, paths, registry_path, workdir) as pipeline:
            counts = _stream(pipeline, generate_events(population, count), count, request, console)
            show(_summary(pipeline, counts, workdir))
            if request.stay_up:
                say("up: broker, worker and /metrics stay up; Ctrl-C stops them")
                threading.Event().wait()
    except KeyboardInterrupt:
        say("up: stopped")
    except (KafkaConfigError, BrokerUnreachable) as exc:
        raise BadInput(str(exc)) from exc
    except (BrokerError, WorkerProcessError) as exc:
        raise RunFailed(str(exc)) from exc


def _stream(pipeline: Any, events: Any, count: int, request: UpRequest, console: Any) -> Any:
    with event_progress(console, disable=not request.progress) as progress:
        sent = progress.add_task("events sent", total=count)
        return pipeline.run(
            events, None, lambda n: progress.advance(sent, n), request.rate, request.batch
        )


def _summary(pipeline: Any, counts: Any, workdir: Path) -> UpSummary:
    from policysim.app.worker_process import sample_sum

    samples = pipeline.worker.metrics()
    infos = [dict(labels) for (name, labels) in samples if name == "policysim_policy_info"]

    def verdicts(policy: str, decision: str) -> int:
        total = sample_sum(samples, "policysim_verdicts_total", policy=policy, decision=decision)
        return int(total)

    rows = [
        PolicyRow(
            info["policy"],
            info["enforced"] == "true",
            *(verdicts(info["policy"], d) for d in DECISIONS),
        )
        for info in sorted(infos, key=lambda info: (info["enforced"] != "true", info["policy"]))
    ]
    settings = pipeline.settings
    return UpSummary(
        policies=rows,
        events_sent=counts.events_sent,
        messages_sent=counts.messages_sent,
        events_acknowledged=counts.events_acknowledged,
        events_lost=counts.events_lost,
        offered_per_second=round(counts.events_sent / max(counts.send_seconds, 1e-9), 1),
        events_evaluated=counts.events_evaluated,
        events_rejected=counts.events_rejected,
        verdicts=counts.verdicts,
        end_to_end_p99_seconds=_quantile(samples, "policysim_end_to_end_seconds", 0.99),
        topic_verdicts=settings.topic_verdicts,
        topic_dlq=settings.topic_dlq,
        bootstrap=pipeline.bootstrap,
        metrics_url=pipeline.metrics_url,
        files=str(workdir),
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
