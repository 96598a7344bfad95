"""Send a paced stream of events into a sink with a progress bar: ``simulate`` and ``replay``.

Both commands take the same sink flags (``policysim.commands.options.add_sink_arguments``):
:class:`SinkChoice` holds them, :func:`open_chosen_sink` checks them and opens
the file or Kafka sink (waiting a few seconds at most for the broker), and
:func:`send_events` runs the stream, turning failures into sentences.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from policysim.app.errors import BadInput, RunFailed
from policysim.app.outputs import output_file
from policysim.app.progress import event_progress
from policysim.base.settings import Settings
from policysim.simulators.pacing import Item, PumpResult, send_all
from policysim.simulators.sinks import FileSink, Sink
from policysim.streams.connect import BrokerUnreachable, TopicMissing, wait_for_broker
from policysim.streams.kafka_config import KafkaConfigError
from policysim.streams.kafka_sink import KafkaSink, KafkaTarget, TargetError, parse_kafka_target


@dataclass(frozen=True)
class SinkChoice:
    """Where a sending command's events go and how they are packed: its sink flags."""

    out: str | None
    bootstrap: str | None
    topic: str | None
    url: str | None  # the older spelling, --to kafka://HOST:PORT/TOPIC
    producer: str
    batch: int | None
    linger_ms: float | None
    progress: bool

    @property
    def to_broker(self) -> bool:
        """Whether the events go to Kafka (and so can be acknowledged, or lost)."""
        return bool(self.url or self.bootstrap)

    @classmethod
    def from_flags(cls, args: argparse.Namespace) -> SinkChoice:
        """The flags ``add_sink_arguments`` defines, as given on the command line."""
        return cls(
            out=args.out,
            bootstrap=args.bootstrap,
            topic=args.topic,
            url=getattr(args, "to", None),
            producer=args.producer,
            batch=args.batch,
            linger_ms=args.linger_ms,
            progress=not args.no_progress,
        )


def kafka_target(
    settings: Settings, bootstrap: str | None, topic: str | None, url: str | None = None
) -> KafkaTarget | None:
    """The topic a command sends to: ``--bootstrap-server``/``--topic``, or a kafka:// URL."""
    if url:
        return parse_kafka_target(url)
    if bootstrap:
        return KafkaTarget(bootstrap, topic or settings.topic_connections)
    return None


def destination(choice: SinkChoice, settings: Settings) -> str:
    """The file or ``HOST:PORT/TOPIC`` the events go to, for summaries."""
    try:
        target = kafka_target(settings, choice.bootstrap, choice.topic, choice.url)
    except TargetError:
        target = None
    return f"{target.bootstrap}/{target.topic}" if target else str(choice.out)


def open_sink(
    out: str | None,
    kafka: KafkaTarget | None,
    settings: Settings,
    producer: str,
    batch: int,
    linger_ms: float,
) -> Sink:
    """The sink for ``--out FILE`` or a Kafka topic (exactly one)."""
    if bool(out) == bool(kafka):
        raise TargetError("give exactly one of --out FILE and --bootstrap-server HOST:PORT")
    if out:
        return FileSink(out)
    assert kafka is not None
    return KafkaSink(settings, kafka, producer, batch, linger_ms / 1000.0)


def open_chosen_sink(settings: Settings, choice: SinkChoice) -> Sink:
    """The sink the flags name, checked: BadInput for bad flags or a broker nobody answers at.

    Opening does not write anything yet; a Kafka sink connects when it starts.
    """
    batch = settings.batch if choice.batch is None else choice.batch
    linger_ms = settings.linger_ms if choice.linger_ms is None else choice.linger_ms
    if batch < 1:
        raise BadInput(f"--batch {batch}: at least 1 event per message")
    if linger_ms < 0:
        raise BadInput(f"--linger-ms {linger_ms:g}: a wait is 0 ms or more")
    try:
        target = kafka_target(settings, choice.bootstrap, choice.topic, choice.url)
        if choice.out:
            output_file(choice.out, "--out")
        sink = open_sink(choice.out, target, settings, choice.producer, batch, linger_ms)
        if target is not None:
            wait_for_broker(settings.replace(bootstrap=target.bootstrap))
    except (TargetError, KafkaConfigError, BrokerUnreachable) as exc:
        raise BadInput(str(exc)) from exc
    return sink


def kafka_failures() -> tuple[type[BaseException], ...]:
    """What sending can fail with once it runs: the broker went away, the disk filled up.

    A function, so that the Kafka clients are imported only when something failed.
    """
    from aiokafka.errors import KafkaError as AioKafkaError
    from kafka.errors import KafkaError

    return (OSError, RuntimeError, KafkaError, AioKafkaError)


def send_events(
    items: Iterable[Item],
    sink: Sink,
    *,
    total: int | None,
    target_rate: float | None,
    show_progress: bool,
    description: str,
) -> PumpResult:
    """Start the sink, pump the items on schedule (with a progress bar), close the sink.

    A topic that does not exist is BadInput; a failure while sending is RunFailed.
    """
    from rich.console import Console

    console = Console(stderr=True)
    try:
        with event_progress(console, disable=not show_progress, remaining=True) as bar:
            task = bar.add_task(description, total=total)

            def progress(n: int) -> None:
                bar.advance(task, n)

            return asyncio.run(send_all(items, sink, target_rate=target_rate, progress=progress))
    except (BrokerUnreachable, TopicMissing) as exc:
        raise BadInput(str(exc)) from exc
    except kafka_failures() as exc:
        raise RunFailed(f"{description}: sending failed: {exc}") from exc


def acknowledgement(sent: int, acknowledged: int, lost: int) -> str:
    """``N acknowledged``, or ``N sent, M acknowledged, K lost`` when the broker lost some.

    The words of every producing command's final line, so an outage never
    reads as plain success.
    """
    if lost:
        return f"{sent:,} sent, {acknowledged:,} acknowledged, {lost:,} lost"
    return f"{acknowledged:,} acknowledged"


def lost_events(sent: int, lost: int, cause: str) -> str:
    """The sentence a command ends with (exit 1) when the broker lost events."""
    because = f" ({cause})" if cause else ""
    return (
        f"{lost:,} of {sent:,} events were lost{because}: the broker did not acknowledge them "
        "or restarted without them; send them again"
    )


def event_count(count: int | None, rate: float | None, duration: float | None) -> int:
    """The number of events the flags ask for, or BadInput explaining the valid forms."""
    if rate is not None and rate <= 0:
        raise BadInput(f"--rate {rate:g}: events per second must be more than 0")
    if count is not None and duration is not None:
        raise BadInput("give --count N or --rate R --duration-seconds D, not both")
    if count is not None:
        if count < 0:
            raise BadInput(f"--count {count}: a count is 0 or more")
        return count
    if rate is None or duration is None or duration <= 0:
        raise BadInput("give --count N, or --rate R and --duration-seconds D (both more than 0)")
    return round(rate * duration)
