"""Run a paced stream into a sink with a progress bar: shared by ``simulate`` and ``replay``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable

from aiokafka.errors import KafkaError as AioKafkaError
from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from policysim.settings import Settings
from simulators.pacing import Item, PumpResult, pump
from simulators.sinks import Sink, open_sink
from streams.producers import DEFAULT_PRODUCER, PRODUCERS

# What a run can fail with once it is sending: reported as one error line, exit code 1.
SEND_ERRORS: tuple[type[BaseException], ...] = (OSError, RuntimeError, KafkaError, AioKafkaError)


def add_sink_arguments(parser: argparse.ArgumentParser, default_batch: str) -> None:
    """``--out``/``--to``, envelope and producer flags (the same on every sending command).

    ``default_batch`` is ``"settings"`` (the ``batch`` setting, 100 unless
    configured) or a fixed number as text (replay keeps 1: one event per message).
    """
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", metavar="FILE", help="write JSON lines (one event per line)")
    target.add_argument("--to", metavar="kafka://HOST:PORT/TOPIC", help="send to a Kafka topic")
    parser.add_argument(
        "--batch",
        type=int,
        default=None if default_batch == "settings" else int(default_batch),
        help="events per Kafka message (envelope; default: "
        + ("the batch setting, 100)" if default_batch == "settings" else f"{default_batch})"),
    )
    parser.add_argument(
        "--linger", type=float, help="ms an event may wait for its envelope (default: settings)"
    )
    parser.add_argument(
        "--producer",
        choices=list(PRODUCERS),
        default=DEFAULT_PRODUCER,
        help=f"Kafka producer path (default {DEFAULT_PRODUCER}, the fastest)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def sink_from_args(args: argparse.Namespace, settings: Settings) -> Sink:
    """The sink the flags name, with envelope size and linger from flags or settings."""
    batch = settings.batch if args.batch is None else args.batch
    if batch < 1:
        raise ValueError("--batch must be at least 1")
    linger = settings.linger_ms if args.linger is None else args.linger
    return open_sink(args.out, args.to, settings, args.producer, batch, linger)


def run_paced(
    items: Iterable[Item],
    sink: Sink,
    *,
    total: int | None,
    target_rate: float | None,
    show_progress: bool,
    description: str,
) -> PumpResult:
    """Start the sink, pump the items on schedule (with a progress bar), close the sink."""
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not show_progress) as bar:
        task = bar.add_task(description, total=total)

        async def main() -> PumpResult:
            await sink.start()
            try:
                return await pump(
                    items,
                    sink,
                    target_rate=target_rate,
                    progress=lambda n: bar.advance(task, n),
                )
            finally:
                await sink.close()

        result = asyncio.run(main())
    result.messages = sink.messages
    return result
