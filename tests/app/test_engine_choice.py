"""Which broker a command starts when none is named: ``auto`` is tansu, and Apache Kafka for
``up`` where its jars and a JDK are here (long runs outgrow the embedded broker)."""

from __future__ import annotations

import pytest

from policysim.app.broker import pick_engine
from policysim.base.settings import Settings
from policysim.streams.kafka.cluster import unavailable_reason


def test_the_default_setting_is_auto() -> None:
    assert Settings().broker_engine == "auto"


@pytest.mark.parametrize("engine", ["tansu", "apache"])
def test_a_named_engine_is_kept(engine: str) -> None:
    assert pick_engine(engine) == pick_engine(engine, long_runs=True) == engine


def test_auto_is_the_embedded_broker_for_short_runs() -> None:
    assert pick_engine("auto") == "tansu"


def test_auto_is_apache_kafka_for_long_runs_where_it_can_start() -> None:
    expected = "tansu" if unavailable_reason() else "apache"
    assert pick_engine("auto", long_runs=True) == expected
