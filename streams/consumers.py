"""Group-less aiokafka consumers that read whole topics from the beginning.

The registry follower (every worker reads every partition of
``registrations``) and the pipeline benchmark's observers need the same
thing: no consumer group, every partition assigned, positioned at the start.
Metadata for a just-created topic can arrive late, so partitions are waited
for rather than assumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from policysim.base.settings import Settings
from policysim.streams.connect import wait_for_broker
from policysim.streams.kafka_config import aiokafka_kwargs


async def open_from_beginning(
    settings: Settings, topics: Sequence[str], **options: Any
) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    """A started consumer assigned every partition of ``topics``, seeked to their beginning
    (``options`` for ``AIOKafkaConsumer``; the fetch wait is the settings' unless given)."""
    await asyncio.to_thread(wait_for_broker, settings)
    options.setdefault("fetch_max_wait_ms", settings.fetch_max_wait_ms)
    consumer = AIOKafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **options,
        **aiokafka_kwargs(settings),
    )
    await consumer.start()
    try:
        partitions = [tp for topic in topics for tp in await _partitions(consumer, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
    except BaseException:
        await consumer.stop()
        raise
    return consumer, partitions


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(topic)
    while not found:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
        if not found:
            await asyncio.sleep(0.2)
    return [TopicPartition(topic, p) for p in sorted(found)]
