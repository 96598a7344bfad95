"""``policysim bench pipeline``: open-loop traffic through the embedded broker and real workers.

One run measures, on the same broker and topic:

* the live pipeline: events offered at ``--rate`` for ``--duration`` (open
  loop, so a slow stage shows as latency, not as a lower offered rate), the
  verdict rate, end-to-end latency percentiles (from each message's
  ``sent_at`` header to the verdict arriving back at a reader), consumer lag
  over time from the workers' ``/metrics``, and a per-stage split of the
  latency from the stamps the worker puts on verdicts;
* the broker floor: a plain aiokafka reader of ``connections`` in the same
  process sees each message ``sent_at`` → arrival with the same fetch wait;
* the ceilings, each draining the backlog the live run left in the topic: a
  raw aiokafka consumer, then a Faust agent that does nothing and one worker,
  in turn for a few rounds (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from policysim.app.broker import check_engine, embedded_broker
from policysim.app.errors import BadInput
from policysim.app.simulate import load_checked_scenario
from policysim.app.worker_process import WorkerProcess, sample_sum, settings_env
from policysim.base.settings import Settings
from policysim.bench.checks import at_least, more_than_zero
from policysim.policies.examples import example_paths
from policysim.simulators.generator import generate_events
from policysim.simulators.pacing import at_rate, send_all
from policysim.simulators.population import build_population
from policysim.simulators.registrations import write_registry
from policysim.simulators.scenario import load_scenario
from policysim.streams.consumers import open_from_beginning
from policysim.streams.headers import POLICY_HEADER, TAKEN_AT_HEADER, sent_at_of, time_of
from policysim.streams.kafka_sink import KafkaSink, KafkaTarget
from policysim.streams.producers import DEFAULT_PRODUCER
from policysim.streams.reading import iter_topic
from policysim.streams.topics import ensure_topics

POLICY_SETS = {
    1: ("pta-vpn-2024.yaml",),
    3: ("pta-vpn-2024.yaml", "pta-vpn-strict.yaml", "pta-vpn-lenient.yaml"),
}
# the drain ceilings as printed: name, key in the result, figure
CEILINGS = (
    ("raw aiokafka", "raw_aiokafka", "messages_per_s"),
    ("no-op Faust agent", "faust_noop_agent", "messages_per_s"),
    ("worker", "worker_drain", "events_per_s"),
)
EVENT_MARK = b'{"id":'  # msgspec writes `id` first: one per verdict, never inside a string
STAGES = (
    ("to_worker", "sent_at → the worker takes the batch (producer, broker, fetch wait, Faust)"),
    ("evaluate_send", "worker takes the batch → verdict record timestamp (decode, evaluate)"),
    ("verdict_read", "verdict record timestamp → reader receives it (produce ack, fetch)"),
)


@dataclass
class Observed:
    """What the reader saw: per message (arrival, events, latency, stage times)."""

    inputs: list[tuple[float, int, float]] = field(default_factory=list)  # t, events, latency
    verdicts: list[tuple[float, int, float, float, float, float]] = field(
        default_factory=list
    )  # t, events, e2e, to_worker, evaluate_send, verdict_read
    events_decided: int = 0


async def _observe(settings: Settings, enforced: str, seen: Observed, stop: asyncio.Event) -> None:
    """Read ``connections`` (broker floor) and ``verdicts`` (end to end) as they arrive."""
    topics = (settings.topic_connections, settings.topic_verdicts)
    consumer, _ = await open_from_beginning(settings, topics, max_partition_fetch_bytes=4 << 20)
    try:
        policy = enforced.encode()
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=20000)
            now = time.time()
            for tp, records in batches.items():
                if tp.topic == settings.topic_connections:
                    for r in records:
                        sent = sent_at_of(r.headers)
                        if sent is not None:
                            seen.inputs.append((now, r.value.count(b'"id"') or 1, now - sent))
                    continue
                for r in records:
                    headers = dict(r.headers or ())
                    if headers.get(POLICY_HEADER) != policy:
                        continue
                    n = r.value.count(EVENT_MARK)
                    seen.events_decided += n
                    sent = sent_at_of(r.headers)
                    taken = time_of(r.headers, TAKEN_AT_HEADER)
                    if sent is None or taken is None:
                        continue
                    out = r.timestamp / 1000
                    seen.verdicts.append((now, n, now - sent, taken - sent, out - taken, now - out))
    finally:
        await consumer.stop()


def percentiles(values: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    if not len(values):
        return {}
    order = np.argsort(values)
    values, weights = values[order], weights[order]
    cumulative = np.cumsum(weights) / weights.sum()
    pick = {q: float(values[np.searchsorted(cumulative, q / 100)]) for q in (50, 95, 99)}
    return {
        "p50_ms": round(pick[50] * 1000, 2),
        "p95_ms": round(pick[95] * 1000, 2),
        "p99_ms": round(pick[99] * 1000, 2),
        "max_ms": round(float(values[-1]) * 1000, 2),
    }


async def _sample_lag(workers: list[WorkerProcess], out: list, start: float, stop: asyncio.Event):
    while not stop.is_set():
        total = 0.0
        for w in workers:
            samples = await asyncio.to_thread(w.metrics)
            total += sample_sum(samples, "policysim_consumer_lag")
        out.append((round(time.time() - start, 1), int(total)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


Sampler = Callable[[float, asyncio.Event], Awaitable[None]]


async def live_run(
    settings: Settings, enforced: str, items, rate: float, batch: int, expected: int,
    sample: Sampler, drain_seconds: float,
) -> tuple[Any, Observed, float]:  # fmt: skip
    """Offer ``items`` open loop while reading both topics and running ``sample(start, stop)``;
    then wait up to ``drain_seconds`` for ``expected`` events decided. Returns what was sent,
    what the reader saw, and the start time (for the pipeline benchmark and the soak)."""
    # The prepared events live through the run: a full collection walking them would stall the
    # load generator and the reader in this process and show as pipeline latency.
    gc.freeze()
    seen, stop = Observed(), asyncio.Event()
    start = time.time()
    observer = asyncio.create_task(_observe(settings, enforced, seen, stop))
    sampler = asyncio.create_task(sample(start, stop))
    target = KafkaTarget(settings.bootstrap, settings.topic_connections)
    sink = KafkaSink(settings, target, DEFAULT_PRODUCER, batch, settings.linger_ms / 1000.0)
    sent = await send_all(at_rate(items, rate), sink, target_rate=rate)
    deadline = time.monotonic() + drain_seconds
    while seen.events_decided < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(observer, sampler)
    return sent, seen, start


async def _raw_drain(settings: Settings, messages: int) -> dict[str, float]:
    """A plain aiokafka consumer reading the backlog: the broker's and client's ceiling."""
    consumer, _ = await open_from_beginning(
        settings, [settings.topic_connections], max_partition_fetch_bytes=4 << 20
    )
    try:
        count, start = 0, time.perf_counter()
        while count < messages and time.perf_counter() - start < 120:
            batches = await consumer.getmany(timeout_ms=200, max_records=50000)
            count += sum(len(r) for r in batches.values())
        elapsed = time.perf_counter() - start
    finally:
        await consumer.stop()
    return {"messages": count, "seconds": round(elapsed, 3), "messages_per_s": count / elapsed}


def _faust_noop_drain(
    settings: Settings, messages: int, group: str, log: Path, timeout: float = 300.0
) -> dict[str, float]:
    """The do-nothing Faust agent (child process, consumer ``group``) over the same backlog."""
    command = [
        sys.executable, "-m", "policysim.streams.noop_agent", "--topic", settings.topic_connections,
        "--group", group, "--expect", str(messages),
    ]  # fmt: skip
    found: list[bytes] = []

    def read(stream: Any) -> None:
        for output in stream:
            if b'{"messages"' in output:
                found.append(output[output.index(b"{") :])
                return

    with log.open("wb") as err:
        child = subprocess.Popen(
            command, env=settings_env(settings), stdout=subprocess.PIPE, stderr=err
        )
        reader = threading.Thread(target=read, args=(child.stdout,), daemon=True)
        reader.start()
        reader.join(timeout)
        child.terminate()
        child.wait(30)
    if not found:
        raise RuntimeError(f"the no-op Faust agent gave no result in {timeout} s; see {log}")
    line = found[0]
    seen = json.loads(line)
    elapsed = max(seen["last"] - seen["first"], 1e-9)
    return {
        "messages": seen["messages"],
        "seconds": round(elapsed, 3),
        "messages_per_s": seen["messages"] / elapsed,
    }


def _worker_drain(
    settings: Settings, paths: list[str], registry: Path, events: int, log: Path
) -> dict[str, float]:
    """One fresh worker (the consumer group and verdict topic of ``settings``, both new) over
    the backlog: the worker's own ceiling.

    Timed from inside, as the no-op agent times itself: from the first batch the worker took
    (its verdicts' ``taken_at``) to its last verdict's record time. ``/metrics`` is read only to
    know when it is done, twice a second, so the reading neither adds to the time nor takes the
    worker's CPU while it drains.
    """
    ensure_topics(settings, [settings.topic_verdicts])
    with WorkerProcess(settings, paths, registry, log) as worker:
        worker.wait_ready()
        worker.wait_for(
            lambda m: sample_sum(m, "policysim_events_total") >= events, 600, interval=0.5
        )
    taken, written = np.inf, -np.inf
    for record in iter_topic(settings, settings.topic_verdicts, until_idle=1.0):
        taken = min(taken, time_of(record.headers, TAKEN_AT_HEADER) or np.inf)
        written = max(written, record.timestamp_ms / 1000)
    elapsed = max(written - taken, 1e-9)
    return {"events": events, "seconds": round(elapsed, 3), "events_per_s": events / elapsed}


def drain_ceilings(
    settings: Settings,
    paths: list[str],
    registry: Path,
    backlog: tuple[int, int],
    rounds: int,
    workdir: Path,
) -> dict[str, Any]:
    """The ceilings over the backlog of (messages, events): a raw aiokafka reader once, then
    the no-op Faust agent and the worker in turn, ``rounds`` times each on fresh groups.

    One drain of a 30 s backlog lasts a few seconds, and two drains of the same process a
    minute apart differed by a quarter on this machine; so the two Faust contenders alternate,
    each figure is the median of its rounds and the ratio is the median of the ratios of
    neighbouring drains, with every round kept in the result.
    """
    messages, events = backlog
    noop_rounds, worker_rounds = [], []
    for at in range(rounds):
        noop_rounds.append(
            _faust_noop_drain(settings, messages, f"bench-noop-{at}", workdir / f"noop-{at}.log")
        )
        drain = settings.replace(
            consumer_group=f"bench-drain-{at}", topic_verdicts=f"bench-drain-verdicts-{at}"
        )
        worker_rounds.append(
            _worker_drain(drain, paths, registry, events, workdir / f"worker-drain-{at}.log")
        )
    ratios = [
        worker["events_per_s"] / (events / messages) / noop["messages_per_s"]
        for noop, worker in zip(noop_rounds, worker_rounds, strict=True)
    ]
    return {
        "raw_aiokafka": asyncio.run(_raw_drain(settings, messages)),
        "faust_noop_agent": _median_round(noop_rounds, "messages_per_s"),
        "worker_drain": _median_round(worker_rounds, "events_per_s"),
        "worker_vs_noop_messages": round(statistics.median(ratios), 2),
        "worker_vs_noop_rounds": [round(ratio, 2) for ratio in ratios],
    }


def _median_round(rounds: list[dict[str, float]], rate: str) -> dict[str, Any]:
    """The round with the median ``rate`` (the lower middle one of an even count), with every
    round's rate beside it."""
    ranked = sorted(rounds, key=lambda figures: figures[rate])
    return {**ranked[(len(ranked) - 1) // 2], "rounds_per_s": [r[rate] for r in rounds]}


def event_pool(population: Any, count: int, pool: int = 200_000) -> Iterator[tuple[str, bytes]]:
    """``count`` events, generated up front and repeated past ``pool``.

    Generating events live costs the load generator a share of the CPU it
    shares with the broker and the worker; the benchmark measures the
    pipeline, so it replays a prepared pool instead (ids repeat past it).
    """
    prepared = list(generate_events(population, min(count, pool)))
    return itertools.islice(itertools.cycle(prepared), count)


def bench_pipeline(
    settings: Settings,
    rate: float,
    duration: float,
    batch: int,
    workers: int,
    policy_count: int,
    scenario_name: str,
    drain_rounds: int = 3,
) -> dict[str, Any]:
    """Run the benchmark on a private broker (the broker_engine setting); return the figures."""
    workdir = Path(tempfile.mkdtemp(prefix="policysim-bench-pipeline-"))
    paths = example_paths(POLICY_SETS[policy_count])
    scenario = load_scenario(scenario_name)
    population = build_population(scenario, 1, settings)
    registry = workdir / "registry.csv"
    write_registry(population, registry)
    count = round(rate * duration)
    with embedded_broker(settings.broker_engine, workdir / "broker.log") as broker:
        settings = settings.replace(bootstrap=broker.bootstrap, log_level="WARNING")
        ensure_topics(settings)
        procs = [
            WorkerProcess(settings, paths, registry, workdir / f"worker-{i}.log")
            for i in range(workers)
        ]
        try:
            for w in procs:
                w.start()
            for w in procs:
                w.wait_ready()
            lag: list = []
            sent, seen, _start = asyncio.run(
                live_run(
                    settings, "pta-vpn-2024", event_pool(population, count), rate, batch, count,
                    lambda start, stop: _sample_lag(procs, lag, start, stop),
                    max(60.0, count / 2000),
                )
            )  # fmt: skip
            worker_samples = [w.metrics() for w in procs]
        finally:
            for w in procs:
                w.stop()
        result = _summarise(
            settings, sent, seen, lag, worker_samples, rate, duration, batch, workers
        )
        result["policies"] = policy_count
        result["engine"] = settings.broker_engine
        if drain_rounds:
            backlog = (sent.messages, count)
            result["ceilings"] = drain_ceilings(
                settings, paths, registry, backlog, drain_rounds, workdir
            )
    result["logs"] = str(workdir)
    return result


def _summarise(settings, sent, seen: Observed, lag, worker_samples, rate, duration, batch, workers):
    v = np.array(seen.verdicts, dtype=np.float64).reshape(-1, 6)
    i = np.array(seen.inputs, dtype=np.float64).reshape(-1, 3)
    weights = v[:, 1]
    span = (v[:, 0].max() - v[:, 0].min()) if len(v) > 1 else 0.0
    evaluated = sum(sample_sum(s, "policysim_events_total") for s in worker_samples)
    decision_sum = sum(sample_sum(s, "policysim_decision_seconds_sum") for s in worker_samples)
    return {
        "offered_rate": rate,
        "duration_s": duration,
        "batch": batch,
        "workers": workers,
        "producer_linger_ms": settings.linger_ms,
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
        "events_sent": sent.events,
        "messages_sent": sent.messages,
        "input_rate": round(sent.rate, 1),
        "events_decided": seen.events_decided,
        "verdict_rate": round(seen.events_decided / span, 1) if span else 0.0,
        "end_to_end": percentiles(v[:, 2], weights),
        "broker_floor_raw_consumer": percentiles(i[:, 2], i[:, 1]),
        "stages": {
            name: percentiles(v[:, 3 + k], weights) for k, (name, _doc) in enumerate(STAGES)
        },
        "decision_us_per_event": round(decision_sum / max(evaluated, 1) * 1e6, 2),
        "lag_over_time": lag,
        "max_lag": max((n for _t, n in lag), default=0),
    }


def engines_of(args: argparse.Namespace, settings: Settings) -> list[str]:
    """The engines to run, from ``--engine A,B`` or the broker_engine setting; each checked."""
    engines = [check_engine(e.strip()) for e in (args.engines or settings.broker_engine).split(",")]
    if len(set(engines)) != len(engines):
        raise BadInput(f"--engine {args.engines}: name each engine once")
    return engines


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark on each engine in turn and print JSON or a readable summary.

    One engine prints its figures (JSON: one object); several print them side
    by side (JSON: ``{"engines": [...]}``, one object each, in the order given).
    """
    more_than_zero(args, "--rate", "--duration-seconds")
    at_least(args, 1, "--batch", "--workers")
    at_least(args, 0, "--linger-ms", "--drain-rounds")
    load_checked_scenario(args.scenario)
    engines = engines_of(args, settings)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the broker on SIGTERM too
    if args.linger_ms is not None:
        settings = settings.replace(linger_ms=round(args.linger_ms))
    results = [
        bench_pipeline(
            settings.replace(broker_engine=engine),
            args.rate,
            args.duration_seconds,
            args.batch,
            args.workers,
            args.policies,
            args.scenario,
            args.drain_rounds,
        )
        for engine in engines
    ]
    if args.format == "json":
        print(json.dumps(results[0] if len(results) == 1 else {"engines": results}, indent=2))
    elif len(results) == 1:
        _print(results[0])
    else:
        _print_side_by_side(results)
    return 0


def _print(r: dict[str, Any]) -> None:
    print(
        f"offered {r['offered_rate']:,.0f} events/s for {r['duration_s']} s, batch {r['batch']}, "
        f"{r['workers']} worker(s), {r['policies']} policies"
    )
    print(
        f"input {r['input_rate']:,.0f} events/s ({r['messages_sent']:,} messages); "
        f"verdicts {r['verdict_rate']:,.0f} events/s; max lag {r['max_lag']:,} messages"
    )
    for name, figures in (
        ("end to end", r["end_to_end"]),
        ("broker floor (raw reader)", r["broker_floor_raw_consumer"]),
        *((f"  stage {k}", v) for k, v in r["stages"].items()),
    ):
        shown = "  ".join(f"{key[:-3]} {value:,.1f} ms" for key, value in figures.items())
        print(f"{name:<28} {shown}")
    ceilings = r.get("ceilings")
    if ceilings:
        for name, key, unit in CEILINGS:
            figures = ceilings[key]
            rounds = " / ".join(f"{rate:,.0f}" for rate in figures.get("rounds_per_s", ()))
            print(
                f"{'drain: ' + name:<28} {figures[unit]:,.0f} {unit.removesuffix('_per_s')}/s"
                + (f"  (rounds {rounds})" if rounds else "")
            )
        ratios = " / ".join(f"{ratio:.2f}" for ratio in ceilings["worker_vs_noop_rounds"])
        print(
            f"{'worker / no-op agent':<28} {ceilings['worker_vs_noop_messages']:.2f}"
            f" per message  (rounds {ratios})"
        )


def side_by_side_rows(results: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The comparison table: one row per figure, one cell per engine's result."""

    def latency(figures: dict[str, float]) -> str:
        return " / ".join(f"{figures[q]:,.1f}" for q in ("p50_ms", "p99_ms") if q in figures)

    def ceiling(r: dict[str, Any], name: str, unit: str) -> str:
        figures = r.get("ceilings", {}).get(name)
        return f"{figures[unit]:,.0f}" if figures else "-"

    rows = [
        ("input, events/s", [f"{r['input_rate']:,.0f}" for r in results]),
        ("verdicts, events/s", [f"{r['verdict_rate']:,.0f}" for r in results]),
        ("max lag, messages", [f"{r['max_lag']:,}" for r in results]),
        ("end to end p50 / p99, ms", [latency(r["end_to_end"]) for r in results]),
        ("raw reader p50 / p99, ms", [latency(r["broker_floor_raw_consumer"]) for r in results]),
        *(
            (f"stage {name} p50 / p99, ms", [latency(r["stages"][name]) for r in results])
            for name, _doc in STAGES
        ),
        *(
            (f"drain: {name}, {unit.removesuffix('_per_s')}/s",
             [ceiling(r, key, unit) for r in results])
            for name, key, unit in CEILINGS
        ),
        ("worker / no-op agent, messages",
         [str(r.get("ceilings", {}).get("worker_vs_noop_messages", "-")) for r in results]),
    ]  # fmt: skip
    return rows


def _print_side_by_side(results: list[dict[str, Any]]) -> None:
    r = results[0]
    print(
        f"offered {r['offered_rate']:,.0f} events/s for {r['duration_s']} s, batch {r['batch']}, "
        f"{r['workers']} worker(s), {r['policies']} policies; engines in turn on this machine"
    )
    rows = side_by_side_rows(results)
    width = max(len(name) for name, _cells in rows)
    cell = max(12, *(len(c) for _name, cells in rows for c in cells))
    print(f"{'':<{width}}  " + "  ".join(f"{x['engine']:>{cell}}" for x in results))
    for name, cells in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{c:>{cell}}" for c in cells))
