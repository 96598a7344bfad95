"""``policysim bench soak``: a long run at a steady rate, sampled every minute, per broker engine.

A broker that keeps every record in memory, or whose fetch cost grows with
what it stores, looks healthy in a one-minute benchmark and falls behind
after half an hour. The soak runs the live pipeline (broker, one worker,
open-loop traffic) for ``--duration-seconds`` on each engine in turn and, for
every sample window, prints the end-to-end latency percentiles of the
verdicts that arrived in it, the events offered and decided, and the CPU and
resident memory of the broker's processes and of the worker. Its verdict
compares the p99 of the last five windows with that of the first five, and
the broker's memory at the end with its memory after the first five.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from policysim.app.broker import check_engine, embedded_broker
from policysim.app.simulate import load_checked_scenario
from policysim.app.worker_process import WorkerProcess
from policysim.base.settings import Settings
from policysim.bench.checks import at_least
from policysim.bench.pipeline import POLICY_SETS, Observed, event_pool, live_run, percentiles
from policysim.policies.examples import example_paths
from policysim.simulators.population import build_population
from policysim.simulators.registrations import write_registry
from policysim.simulators.scenario import load_scenario
from policysim.streams.topics import ensure_topics

EDGE_WINDOWS = 5  # windows compared at the start and at the end of a soak


@dataclass
class Usage:
    """CPU seconds and resident bytes of a set of processes, read at one moment."""

    at: float
    cpu_seconds: float
    rss_bytes: int


@dataclass
class Samples:
    """What the sampler read each window: broker and worker usage."""

    broker: list[Usage] = field(default_factory=list)
    worker: list[Usage] = field(default_factory=list)


def usage(pids: list[int]) -> Usage:
    """Total CPU time and RSS of ``pids`` and their children (a JVM or a Rust binary alike)."""
    cpu, rss = 0.0, 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            parent = psutil.Process(pid)
            for proc in [parent, *parent.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    cpu += times.user + times.system
                    rss += proc.memory_info().rss
    return Usage(time.time(), cpu, rss)


async def _sample(
    broker_pids: list[int], worker_pid: int, every: float, out: Samples, stop: asyncio.Event
) -> None:
    while True:
        out.broker.append(await asyncio.to_thread(usage, broker_pids))
        out.worker.append(await asyncio.to_thread(usage, [worker_pid]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if stop.is_set():
            return


def window_rows(seen: Observed, samples: Samples, start: float, every: float) -> list[dict]:
    """One row per sample window: latency of the verdicts that arrived in it, and usage."""
    v = np.array(seen.verdicts, dtype=np.float64).reshape(-1, 6)
    rows = []
    broker, worker = samples.broker, samples.worker
    pairs = zip(broker, broker[1:], worker, worker[1:], strict=False)
    for k, (b0, b1, w0, w1) in enumerate(pairs):
        inside = (v[:, 0] >= b0.at) & (v[:, 0] < b1.at)
        wall = max(b1.at - b0.at, 1e-9)
        latency = percentiles(v[inside, 2], v[inside, 1])
        rows.append(
            {
                "window": k + 1,
                "end_s": round(b1.at - start),
                "events_decided": int(v[inside, 1].sum()),
                "p50_ms": latency.get("p50_ms"),
                "p99_ms": latency.get("p99_ms"),
                "broker_cpu_pct": round(100 * (b1.cpu_seconds - b0.cpu_seconds) / wall, 1),
                "broker_rss_mb": round(b1.rss_bytes / 2**20, 1),
                "worker_cpu_pct": round(100 * (w1.cpu_seconds - w0.cpu_seconds) / wall, 1),
                "worker_rss_mb": round(w1.rss_bytes / 2**20, 1),
            }
        )
    return rows


def verdict(rows: list[dict]) -> dict[str, Any]:
    """The soak's two questions: does latency drift, does the broker's memory keep growing?"""
    full = [r for r in rows if r["p99_ms"] is not None]
    if len(full) < 2 * EDGE_WINDOWS:
        return {"windows": len(rows), "note": f"fewer than {2 * EDGE_WINDOWS} windows"}
    first = float(np.median([r["p99_ms"] for r in full[:EDGE_WINDOWS]]))
    last = float(np.median([r["p99_ms"] for r in full[-EDGE_WINDOWS:]]))
    settled = rows[EDGE_WINDOWS - 1]["broker_rss_mb"]
    end = rows[-1]["broker_rss_mb"]
    minutes = max((rows[-1]["end_s"] - rows[EDGE_WINDOWS - 1]["end_s"]) / 60, 1e-9)
    return {
        "p99_first_ms": round(first, 1),
        "p99_last_ms": round(last, 1),
        "p99_last_over_first": round(last / first, 2) if first else None,
        "p99_target_met": bool(first and last <= 1.5 * first),
        "broker_rss_settled_mb": settled,
        "broker_rss_end_mb": end,
        "broker_rss_growth_mb_per_min": round((end - settled) / minutes, 1),
        "broker_memory_flat": bool(end <= settled * 1.1 + 32),
    }


def soak_one(
    settings: Settings,
    engine: str,
    rate: float,
    duration: float,
    every: float,
    batch: int,
    policy_count: int,
    scenario_name: str,
) -> dict[str, Any]:
    """Soak one engine; return its rows and verdict."""
    workdir = Path(tempfile.mkdtemp(prefix=f"policysim-bench-soak-{engine}-"))
    paths = example_paths(POLICY_SETS[policy_count])
    population = build_population(load_scenario(scenario_name), 1, settings)
    registry = workdir / "registry.csv"
    write_registry(population, registry)
    count = round(rate * duration)
    with embedded_broker(engine, workdir / "broker.log") as broker:
        settings = settings.replace(bootstrap=broker.bootstrap, log_level="WARNING")
        ensure_topics(settings)
        with WorkerProcess(settings, paths, registry, workdir / "worker.log") as worker:
            worker.wait_ready()
            samples = Samples()
            sent, seen, start = asyncio.run(
                live_run(
                    settings, "pta-vpn-2024", event_pool(population, count), rate, batch, count,
                    lambda _start, stop: _sample(broker.pids, worker.pid, every, samples, stop),
                    # A broker that fell behind is part of the finding: drain for two windows.
                    max(60.0, 2 * every),
                )
            )  # fmt: skip
    rows = window_rows(seen, samples, start, every)
    return {
        "engine": engine,
        "rate_per_second": rate,
        "duration_seconds": duration,
        "batch": batch,
        "policies": policy_count,
        "events_sent": sent.events,
        "events_decided": seen.events_decided,
        "windows": rows,
        "verdict": verdict(rows),
        "logs": str(workdir),
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    at_least(args, 1, "--batch")
    engines = [e.strip() for e in args.engine.split(",") if e.strip()]
    for engine in engines:
        check_engine(engine)
    load_checked_scenario(args.scenario)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the brokers on SIGTERM too
    results = []
    for engine in engines:  # each engine's table as soon as it is done: a soak takes long
        result = soak_one(
            settings,
            engine,
            args.rate_per_second,
            args.duration_seconds,
            args.sample_seconds,
            args.batch,
            args.policies,
            args.scenario,
        )
        results.append(result)
        if args.format != "json":
            _print(result)
    if args.format == "json":
        import json

        print(json.dumps(results, indent=2))
    return 0


def _print(result: dict[str, Any]) -> None:
    print(
        f"soak on {result['engine']}: {result['rate_per_second']:g} events/s for "
        f"{result['duration_seconds']:g} s, envelopes of {result['batch']}, "
        f"{result['policies']} policies; {result['events_sent']:,} sent, "
        f"{result['events_decided']:,} decided (logs: {result['logs']})"
    )
    header = ("end_s", "events_decided", "p50_ms", "p99_ms", "broker_cpu_pct", "broker_rss_mb",
              "worker_cpu_pct", "worker_rss_mb")  # fmt: skip
    print("  " + "  ".join(f"{h:>14}" for h in header))
    for row in result["windows"]:
        print("  " + "  ".join(f"{row[h]!s:>14}" for h in header))
    for key, value in result["verdict"].items():
        print(f"  {key}: {value}")
