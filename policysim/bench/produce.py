"""``policysim bench produce``: events/s into Kafka for each producer path, side by side.

Every path sends the same pre-generated scenario events (so generation is not
timed) into its own fresh 8-partition topic, through the same envelope and
``sent_at`` header code the load generator uses; the clock stops when the
producer has delivered everything (acks=1). Each path runs with envelopes
(``--batch``, default 100) and with one event per message (fewer events:
the slow paths would take minutes); each figure is the median of
``--repeat`` runs. A last row times the whole load generator, generation
included (``simulate`` with the default path).
The target is 200,000 events/s with envelopes on one process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Iterator

from rich.console import Console
from rich.table import Table

from policysim.app.simulate import load_checked_scenario
from policysim.base.settings import Settings
from policysim.bench.checks import at_least
from policysim.simulators.generator import generate_events
from policysim.simulators.pacing import at_rate, pump
from policysim.simulators.population import build_population
from policysim.streams.kafka_sink import KafkaSink, KafkaTarget
from policysim.streams.producers import DEFAULT_PRODUCER, PRODUCERS

TARGET_EVENTS_PER_S = 200_000


async def _send(
    settings: Settings, topic: str, producer: str, batch: int, items: Iterator
) -> tuple[int, int, float]:
    sink = KafkaSink(settings, KafkaTarget(settings.bootstrap, topic), producer, batch, 0.02)
    await sink.start()  # connecting is not timed
    start = time.perf_counter()
    result = await pump(items, sink)
    await sink.close()
    return result.events, sink.messages, time.perf_counter() - start


def _measure(
    settings: Settings,
    name: str,
    producer: str,
    batch: int,
    lines: list[tuple[str, bytes]],
    repeat: int,
) -> dict:
    """The median of ``repeat`` runs, each into a fresh topic."""
    from policysim.streams.topics import ensure_topics

    size = sum(len(v) for _, v in lines)
    runs = []
    for attempt in range(repeat):
        topic = f"bench-produce-{name}-{attempt}"
        ensure_topics(settings, [topic])
        runs.append(asyncio.run(_send(settings, topic, producer, batch, at_rate(lines, None))))
    events, messages, seconds = sorted(runs, key=lambda run: run[2])[len(runs) // 2]
    return _row(producer, batch, events, messages, seconds, size)


def _row(producer: str, batch: int, events: int, messages: int, seconds: float, size: int) -> dict:
    return {
        "path": producer,
        "batch": batch,
        "events": events,
        "messages": messages,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds),
        "mb_per_s": round(size / seconds / 1e6, 1),
    }


def _end_to_end(settings: Settings, population, count: int, batch: int) -> dict:
    """The load generator as a user runs it: generation + envelopes + the default path."""
    from policysim.streams.topics import ensure_topics

    topic = "bench-produce-simulate"
    ensure_topics(settings, [topic])
    sizes = [0]

    def counted() -> Iterator[tuple[str, bytes]]:
        for src, value in generate_events(population, count):
            sizes[0] += len(value)
            yield src, value

    events, messages, seconds = asyncio.run(
        _send(settings, topic, DEFAULT_PRODUCER, batch, at_rate(counted(), None))
    )
    row = _row(DEFAULT_PRODUCER, batch, events, messages, seconds, sizes[0])
    row["path"] = "simulate (+generation)"
    return row


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run every path (starting an embedded broker unless a bootstrap is configured)."""
    at_least(args, 1, "--count", "--single-count", "--batch", "--repeat")
    scenario = load_checked_scenario(args.scenario)
    with contextlib.ExitStack() as stack:
        if not settings.bootstrap:
            from policysim.streams.broker import EmbeddedBroker

            broker = stack.enter_context(EmbeddedBroker())
            settings = settings.replace(bootstrap=broker.bootstrap)
        population = build_population(scenario, 1, settings)
        lines = list(generate_events(population, max(args.count, args.single_count)))
        rows = []
        for producer in PRODUCERS:
            for batch, count in ((args.batch, args.count), (1, args.single_count)):
                name = f"{producer}-{batch}"
                rows.append(_measure(settings, name, producer, batch, lines[:count], args.repeat))
        rows.append(_end_to_end(settings, population, args.count, args.batch))
    report = {
        "benchmark": "produce",
        "event_bytes_mean": round(sum(len(v) for _, v in lines) / len(lines)),
        "partitions": settings.partitions,
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "repeat": args.repeat,
        "results": rows,
    }
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)
    return 0


def _print_table(report: dict) -> None:
    table = Table(
        title=f"produce: {report['event_bytes_mean']}-byte events, "
        f"{report['partitions']} partitions"
    )
    for column in ("path", "batch", "events", "messages", "seconds", "events/s", "MB/s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for row in report["results"]:
        table.add_row(
            row["path"],
            str(row["batch"]),
            f"{row['events']:,}",
            f"{row['messages']:,}",
            f"{row['seconds']:.2f}",
            f"{row['events_per_s']:,}",
            f"{row['mb_per_s']:.1f}",
        )
    Console().print(table)
