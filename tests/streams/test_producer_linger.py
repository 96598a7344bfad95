"""The linger setting is waited once: by the producer path that holds messages back itself, or
by aiokafka's own accumulator, never by both (that tripled the wait of an envelope)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import aiokafka
import pytest

from policysim.base.settings import load_settings
from policysim.streams.producers import AioKafkaBatchProducer, AioKafkaProducer


class _Client:
    """A stand-in for AIOKafkaProducer that records how it was made."""

    made: ClassVar[dict[str, Any]] = {}

    def __init__(self, **kwargs: Any) -> None:
        _Client.made = kwargs

    async def start(self) -> None:
        return None

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    def create_batch(self) -> None:
        return None


@pytest.mark.parametrize(
    ("producer", "client_linger_ms"), [(AioKafkaBatchProducer, 0), (AioKafkaProducer, 35)]
)
def test_aiokafka_lingers_only_where_policysim_does_not(
    producer: type, client_linger_ms: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", _Client)
    settings = load_settings(environ={}).replace(bootstrap="127.0.0.1:9", linger_ms=35)
    asyncio.run(producer(settings, "connections")._connect())
    assert _Client.made["linger_ms"] == client_linger_ms
