"""Shared fixtures: one Kafka broker per engine and test session, and helpers around it.

Starting a broker takes milliseconds (Tansu) to seconds (Apache Kafka) and Faust
workers take seconds, so tests share each broker and keep apart by topic names:
``kafka_settings`` gives each test its own set of topics (and consumer group) on
the shared broker. ``broker`` is the embedded Tansu here; the stream tests
(``tests/streams/conftest.py``) run on every engine of ``engines.ENGINES``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from engines import engine_broker
from hypothesis import settings as hypothesis_settings
from kafka_topics import private_settings

from policysim.base.settings import Settings
from policysim.streams.broker import Broker
from policysim.streams.reading import read_items

_serial = itertools.count()

# CI replays the same property-test examples on every run, so a result there is reproducible;
# on a developer's machine each run draws new ones and keeps what fails in .hypothesis/.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def tansu_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """The embedded broker, started once for the whole session on a free loopback port."""
    log_path = Path(tmp_path_factory.mktemp("broker")) / "broker.log"
    with engine_broker("tansu", log_path) as running:
        yield running


@pytest.fixture(scope="session")
def apache_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One Apache Kafka node, started once for the session (skips without a JDK or the jars)."""
    log_path = Path(tmp_path_factory.mktemp("apache-broker")) / "broker.log"
    with engine_broker("apache", log_path) as running:
        yield running


@pytest.fixture(scope="session")
def broker(tansu_broker: Broker) -> Broker:
    """The session's broker outside the stream tests: the embedded one."""
    return tansu_broker


@pytest.fixture
def kafka_settings(broker: Broker, request: pytest.FixtureRequest) -> Settings:
    """Settings on the shared broker with topics and a consumer group private to this test.

    The topics exist (with 8 partitions) when the test starts.
    """
    tag = f"{request.node.name[:40]}-{os.getpid()}-{next(_serial)}"
    return private_settings(broker.bootstrap, tag)


@pytest.fixture
def consume() -> Callable[..., list[dict]]:
    """``consume(settings, topic, expected=None, until_idle=2.0)``: a topic's JSON objects.

    Envelopes are flattened; reading stops at ``expected`` objects or after
    ``until_idle`` quiet seconds.
    """

    def _consume(
        settings: Settings, topic: str, expected: int | None = None, until_idle: float = 2.0
    ) -> list[dict]:
        return read_items(settings, topic, until_idle=until_idle, expected=expected)

    return _consume
