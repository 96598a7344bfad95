"""Following the ``registrations`` topic so every worker holds the whole, current registry.

Each worker reads every partition of the topic from the beginning with a
plain aiokafka consumer (no group, nothing committed), on top of the registry
file loaded at start. That rebuilds the registry the same way after any
restart, without Faust's changelog recovery or ``end_offsets()``, both of
which the embedded broker gets wrong. "Caught up" is judged from the
high-water marks that fetch responses carry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import ConsumerStoppedError

from policysim.base.settings import Settings
from policysim.policies.registry import Registry, RegistryRecord
from policysim.streams.consumers import open_from_beginning
from policysim.streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)

_decode_record = msgspec.json.Decoder(RegistryRecord).decode
# Registrations are few and a fraction of a second late is soon enough for them; with the
# worker's 10 ms fetch wait an idle topic cost every worker a hundred empty fetches a second.
FETCH_WAIT_MS = 250


class RegistryFollower:
    """Apply registration records to ``registry`` as they arrive."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        metrics: WorkerMetrics,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.metrics = metrics
        self.on_change = on_change
        self.caught_up = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []

    async def start(self) -> None:
        """Connect and assign every partition of the topic from its beginning."""
        self._consumer, self._partitions = await open_from_beginning(
            self.settings,
            [self.settings.topic_registrations],
            client_id="policysim-registry",
            fetch_max_wait_ms=max(self.settings.fetch_max_wait_ms, FETCH_WAIT_MS),
        )

    async def run(self) -> None:
        """Consume forever; set :attr:`caught_up` once every partition reached its high water."""
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("RegistryFollower.run() before start()")
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            except ConsumerStoppedError:
                return
            applied = 0
            for messages in batches.values():
                for message in messages:
                    applied += self._apply(message.value)
            if applied and self.on_change is not None:
                self.on_change()
            if not self.caught_up.is_set() and await self._at_high_water():
                log.info("registry caught up with %s", self.settings.topic_registrations)
                self.caught_up.set()

    def _apply(self, value: bytes | None) -> int:
        try:
            record = _decode_record(value or b"")
            self.registry.apply(record)
        except (msgspec.DecodeError, ValueError) as exc:
            log.warning("registration record refused: %s: %.200r", exc, value)
            self.metrics.registry_updates.labels("rejected").inc()
            return 0
        self.metrics.registry_updates.labels("applied").inc()
        return 1

    async def _at_high_water(self) -> bool:
        consumer = self._consumer
        for tp in self._partitions:
            high = consumer.highwater(tp)
            if high is None or await consumer.position(tp) < high:
                return False
        return True

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
