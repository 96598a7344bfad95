"""Send a paced stream of events into a sink with a progress bar: ``simulate`` and ``replay``."""

from __future__ import annotations

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

from policysim.app.targets import open_sink
from policysim.base.settings import Settings
from policysim.simulators.pacing import Item, PumpResult, pump
from policysim.simulators.sinks import Sink
from policysim.streams.kafka_sink import KafkaTarget, parse_kafka_target

# What a run can fail with once it is sending: reported as one error line, exit code 1.
SEND_ERRORS: tuple[type[BaseException], ...] = (OSError, RuntimeError, KafkaError, AioKafkaError)


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


def open_sink_for(
    settings: Settings,
    out: str | None,
    kafka: KafkaTarget | None,
    producer: str,
    batch: int | None,
    linger_ms: float | None,
) -> Sink:
    """The sink a command names, with envelope size and linger from its flags or settings."""
    batch = settings.batch if batch is None else batch
    if batch < 1:
        raise ValueError("--batch must be at least 1")
    linger = settings.linger_ms if linger_ms is None else linger_ms
    return open_sink(out, kafka, settings, producer, batch, linger)


def kafka_target(
    settings: Settings, bootstrap: str | None, topic: str | None, url: str | None = None
) -> KafkaTarget | None:
    """The topic a command sends to: ``--bootstrap-server``/``--topic``, or a kafka:// URL."""
    if url:
        return parse_kafka_target(url)
    if bootstrap:
        return KafkaTarget(bootstrap, topic or settings.topic_connections)
    return None


def event_count(events: int | None, rate: float | None, duration: float | None) -> int:
    """The number of events the flags ask for, or ValueError explaining the valid forms."""
    if events is not None and duration is not None:
        raise ValueError("give --events N or --rate R --duration D, not both")
    if events is not None:
        if events < 0:
            raise ValueError("--events must be >= 0")
        return events
    if rate is None or duration is None or rate <= 0 or duration <= 0:
        raise ValueError("give --events N, or --rate R and --duration D (both > 0)")
    return round(rate * duration)
