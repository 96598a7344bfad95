"""The stream tests run on every broker engine: ``broker`` is parametrized over ENGINES.

Each engine's broker is started once per session (``tansu_broker``,
``apache_broker`` in ``tests/conftest.py``), so the Apache Kafka JVM starts once
however many tests use it; without a JDK or the jars its tests skip and say why.
"""

from __future__ import annotations

import pytest
from engines import ENGINES

from policysim.streams.broker import Broker


@pytest.fixture(scope="session", params=ENGINES)
def broker(request: pytest.FixtureRequest) -> Broker:
    """The session's broker of the engine this test runs on."""
    return request.getfixturevalue(f"{request.param}_broker")
