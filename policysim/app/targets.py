"""The destination a command names: ``--out FILE`` or ``--to kafka://HOST:PORT/TOPIC``."""

from __future__ import annotations

from policysim.base.settings import Settings
from policysim.simulators.sinks import FileSink, Sink
from policysim.streams.kafka_sink import KafkaSink, KafkaTarget, TargetError


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
