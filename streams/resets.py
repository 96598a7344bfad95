"""Noticing a broker that lost the worker's topics (a restart of the embedded broker, a topic
deleted or recreated), instead of carrying on from positions that no longer mean anything.

Left alone, the Faust consumer keeps its in-memory positions: messages of the
new topic below the old position are dropped as "already read", and commits
fail with ``UnknownTopicOrPartition`` while readiness says 1. Once a second,
:class:`ResetWatch` compares what the worker committed and read with what the
broker holds:

* the ``connections`` topic is gone (``topic_missing``): the topics are
  created again, as at start;
* the group's committed offset of a partition is gone or below what this
  worker committed (``offsets_lost``);
* a partition's end offset is below the position the worker reached
  (``end_below_position``).

Each incident is said once in the log and counted in
``policysim_broker_resets_total{reason}``; readiness drops to 0 until the
broker holds the worker's commits again, and every assigned partition is read
again from the start of the new topic, so nothing in it is skipped (what the
worker had decided before the reset may be decided again: at least once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from kafka.errors import KafkaError

from policysim.base.settings import Settings
from policysim.streams.metrics import WorkerMetrics
from policysim.streams.topics import ensure_topics

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0


class BrokerState:
    """The topics and the group's committed offsets as the broker has them now (kafka-python)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._admin: Any = None

    def read(self) -> tuple[set[str], dict[tuple[str, int], int]]:
        """(topic names, committed offset per (topic, partition)); raises KafkaError or OSError."""
        from kafka.admin import KafkaAdminClient

        from policysim.streams.kafka_config import kafka_python_kwargs

        if self._admin is None:
            self._admin = KafkaAdminClient(
                client_id="policysim-reset-watch",
                request_timeout_ms=5000,
                **kafka_python_kwargs(self.settings),
            )
        try:
            topics = set(self._admin.list_topics())
            group = self.settings.consumer_group
            offsets = self._admin.list_group_offsets({group: None}).get(group, {})
        except BaseException:
            self.close()
            raise
        return topics, {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}

    def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()


def find_reset(
    topic: str,
    topics: set[str],
    theirs: dict[tuple[str, int], int],
    committed: dict[tuple[str, int], int],
    reached: dict[tuple[str, int], int],
    ends: dict[tuple[str, int], int],
) -> str | None:
    """The reason the broker no longer holds what this worker did, or None.

    ``committed`` is what this worker's commits reached, ``theirs`` what the
    broker has committed for the group, ``reached`` the positions this worker
    processed up to and ``ends`` the partitions' end offsets as last fetched.
    """
    if topic not in topics:
        return "topic_missing"
    for where, offset in committed.items():
        if offset > 0 and theirs.get(where, -1) < offset:
            return "offsets_lost"
    for where, position in reached.items():
        end = ends.get(where)
        if end is not None and end < position:
            return "end_below_position"
    return None


class ResetWatch:
    """Once a second: has the broker lost what the worker did? Then say so and start over."""

    def __init__(
        self,
        app: Any,
        settings: Settings,
        metrics: WorkerMetrics,
        processed: dict[Any, int],
        is_ready: Callable[[], bool],
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.processed = processed
        self.is_ready = is_ready  # whether the worker announced readiness
        self.state = BrokerState(settings)
        self.incident: str | None = None  # the reason while an incident lasts
        self.unreachable = False

    async def run(self) -> None:
        """Check once a second; an unforeseen failure of one check is logged, never fatal."""
        try:
            while True:
                await asyncio.sleep(CHECK_SECONDS)
                try:
                    await self.check()
                except Exception:  # the watch must never stop the worker
                    log.exception("checking the broker for a reset failed; trying again")
        finally:
            self.state.close()

    def _assigned(self) -> list[Any]:
        topic = self.settings.topic_connections
        return [tp for tp in self.app.consumer.assignment() if tp.topic == topic]

    async def check(self) -> str | None:
        """One look; returns the reason of a reset found now (None when all is well)."""
        consumer = self.app.consumer
        assigned = self._assigned()
        committed_by_us = consumer._committed_offset  # Faust's: what its commits reached
        committed = {(tp.topic, tp.partition): committed_by_us.get(tp) or 0 for tp in assigned}
        reached = {
            (tp.topic, tp.partition): self.processed[(tp.topic, tp.partition)]
            for tp in assigned
            if (tp.topic, tp.partition) in self.processed
        }
        ends = {(tp.topic, tp.partition): consumer.highwater(tp) for tp in assigned}
        try:
            topics, theirs = await asyncio.to_thread(self.state.read)
        except (KafkaError, OSError) as exc:
            if not self.unreachable:
                log.warning("the broker does not answer (%r); not ready until it does", exc)
            self.unreachable = True
            self.metrics.ready.set(0)
            return None
        self.unreachable = False
        reason = find_reset(
            self.settings.topic_connections,
            topics,
            theirs,
            committed,
            reached,
            {k: v for k, v in ends.items() if v is not None},
        )
        if reason is None:
            if self.incident is not None:
                log.info("the broker holds this worker's commits again; ready")
            self.incident = None
            if self.is_ready():
                self.metrics.ready.set(1)
            return None
        self.metrics.ready.set(0)
        if self.incident is None:
            log.warning(
                "the broker lost topic %s or its positions (%s): it restarted empty or the "
                "topic was recreated; reading every assigned partition again from its start",
                self.settings.topic_connections,
                reason,
            )
            self.metrics.broker_resets.labels(reason).inc()
        self.incident = reason
        if reason == "topic_missing":
            await asyncio.to_thread(ensure_topics, self.settings)
        await self.start_over(assigned)
        return reason

    async def start_over(self, assigned: list[Any]) -> None:
        """Forget Faust's positions and acknowledgements of ``assigned``; seek them to 0."""
        consumer = self.app.consumer
        for tp in assigned:
            for table in (consumer._acked, consumer._acked_index, consumer._gap):
                table.pop(tp, None)
            consumer._committed_offset[tp] = None
            self.processed.pop((tp.topic, tp.partition), None)
            await consumer.seek(tp, 0)
