"""Reading a whole topic back: for ``policysim dump``, the pipeline's summary and tests.

The reader assigns itself every partition (no consumer group, nothing
committed) and stops when the topic has been quiet for a while or an expected
number of items has arrived. It never asks the broker for end offsets, which
the embedded broker reports wrongly when a batch holds several records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import orjson
from kafka import KafkaConsumer, TopicPartition

from policysim.base.settings import Settings
from policysim.streams.connect import TopicMissing, wait_for_broker
from policysim.streams.kafka_config import kafka_python_kwargs

TOPIC_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Record:
    """One Kafka message as read back."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


def iter_topic(
    settings: Settings,
    topic: str,
    until_idle: float = 2.0,
    timeout: float = 300.0,
    done: Callable[[int], bool] | None = None,
) -> Iterator[Record]:
    """Yield every message of ``topic`` from the beginning.

    Stops after ``until_idle`` seconds without a new message, after
    ``timeout`` seconds in all, or as soon as ``done(messages_so_far)`` is true.
    Raises :class:`~policysim.streams.connect.BrokerUnreachable` when no broker
    answers and :class:`~policysim.streams.connect.TopicMissing` when the topic
    does not appear within ``TOPIC_WAIT_SECONDS``.
    """
    wait_for_broker(settings)
    consumer = KafkaConsumer(
        client_id="policysim-reader",
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        **kafka_python_kwargs(settings),
    )
    try:
        partitions = _wait_partitions(consumer, settings, topic, min(timeout, TOPIC_WAIT_SECONDS))
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        count = 0
        start = last = time.monotonic()
        while True:
            batches = consumer.poll(timeout_ms=100, max_records=10_000)
            now = time.monotonic()
            for messages in batches.values():
                for m in messages:
                    count += 1
                    yield Record(
                        m.topic,
                        m.partition,
                        m.offset,
                        m.key,
                        m.value,
                        tuple(m.headers or ()),
                        m.timestamp,
                    )
                last = now
            if done is not None and done(count):
                return
            if now - last >= until_idle or now - start >= timeout:
                return
    finally:
        consumer.close()


def _wait_partitions(
    consumer: KafkaConsumer, settings: Settings, topic: str, timeout: float
) -> list[TopicPartition]:
    """The topic's partitions; metadata of a just-created topic can take a moment."""
    deadline = time.monotonic() + timeout
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        if time.monotonic() >= deadline:
            raise TopicMissing(f"topic {topic!r} does not exist at {settings.bootstrap}")
        time.sleep(0.1)


def flatten(value: bytes) -> list[dict]:
    """A message's JSON objects: the items of an envelope, or the one object."""
    data = orjson.loads(value)
    return data if isinstance(data, list) else [data]


def read_items(
    settings: Settings,
    topic: str,
    until_idle: float = 2.0,
    timeout: float = 300.0,
    expected: int | None = None,
) -> list[dict]:
    """All JSON objects in ``topic`` (envelopes flattened), stopping early at ``expected``."""
    items: list[dict] = []
    done = None if expected is None else (lambda _n: len(items) >= expected)
    for record in iter_topic(settings, topic, until_idle, timeout, done):
        items.extend(flatten(record.value))
    return items


@dataclass
class DumpCounts:
    """What a dump wrote: JSON objects, and messages skipped because they were not JSON."""

    objects: int = 0
    not_json: int = 0


def dump_topic(
    settings: Settings,
    topic: str,
    out: BinaryIO,
    until_idle: float = 2.0,
    progress: Callable[[int], None] | None = None,
) -> DumpCounts:
    """Write every JSON object of ``topic`` as one line to ``out``, until it is idle.

    A message that is not JSON (a topic can hold anything) is counted and
    skipped rather than ending the dump.
    """
    counts = DumpCounts()
    for record in iter_topic(settings, topic, until_idle, timeout=float("inf")):
        try:
            items = flatten(record.value)
        except orjson.JSONDecodeError:
            counts.not_json += 1
            continue
        for item in items:
            out.write(orjson.dumps(item) + b"\n")
        counts.objects += len(items)
        if progress is not None:
            progress(counts.objects)
    return counts
