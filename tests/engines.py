"""The broker engines the stream tests run on, and a broker of each (skips where it cannot run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysim.streams.broker import Broker, EmbeddedBroker
from policysim.streams.kafka.cluster import ApacheKafka, unavailable_reason

ENGINES = ("tansu", "apache")


def engine_broker(engine: str, log_path: Path, nodes: int = 1) -> Broker:
    """A broker of ``engine`` not started yet; Apache Kafka skips the test where it cannot run."""
    if engine == "tansu":
        return EmbeddedBroker(log_path=log_path)
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    return ApacheKafka(nodes=nodes, log_path=log_path)
