"""The four topics of the pipeline, created idempotently at start-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaConnectionError, NodeNotReadyError, TopicAlreadyExistsError

from policysim.base.settings import Settings
from policysim.streams.connect import wait_for_broker
from policysim.streams.kafka_config import kafka_python_kwargs

log = logging.getLogger(__name__)

T = TypeVar("T")


def topic_names(settings: Settings) -> list[str]:
    """connections, verdicts, registrations and the dead-letter topic, as configured."""
    return [
        settings.topic_connections,
        settings.topic_verdicts,
        settings.topic_registrations,
        settings.topic_dlq,
    ]


def _retrying(call: Callable[[], T], timeout: float) -> T:
    """``call()``, again while the broker it picked refuses connections, for ``timeout`` s.

    Just after a node of a cluster dies the metadata still lists it, and the
    admin client may send its request there; the next try picks another node.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (KafkaConnectionError, NodeNotReadyError) as exc:
            if time.monotonic() >= deadline:
                raise
            log.debug("broker refused an admin request (%s); trying again", exc)
            time.sleep(0.2)


def _admin(settings: Settings) -> KafkaAdminClient:
    """An admin client, once a broker answers (BrokerUnreachable within seconds otherwise)."""
    wait_for_broker(settings)
    return KafkaAdminClient(client_id="policysim-admin", **kafka_python_kwargs(settings))


# Topics are copied to three brokers where there are three: a lost broker then loses no data.
REPLICAS = 3
# A durable topic needs two of those copies to have each write before it is acknowledged.
DURABLE_MIN_INSYNC = 2


def new_topic(settings: Settings, name: str, brokers: int) -> NewTopic:
    """``name`` with ``settings.partitions`` and :data:`REPLICAS` replicas (as many as there are
    brokers on a smaller cluster), as Apache Kafka's own default for a cluster that size.

    When ``settings.durable``, ``min.insync.replicas`` is also
    :data:`DURABLE_MIN_INSYNC` (at most the replicas), so with ``acks=all`` a
    write acknowledged by the cluster is on two brokers and one may die.
    """
    replicas = max(min(REPLICAS, brokers), 1)
    if not settings.durable:
        return NewTopic(name, settings.partitions, replicas)
    insync = min(DURABLE_MIN_INSYNC, replicas)
    return NewTopic(
        name, settings.partitions, replicas, topic_configs={"min.insync.replicas": str(insync)}
    )


def ensure_topics(settings: Settings, names: list[str] | None = None) -> list[str]:
    """Create the missing topics (see :func:`new_topic`); return the names created.

    Existing topics are left as they are (their partition count and
    replication included), so starting a second worker or re-running ``up``
    against the same broker is safe.
    """
    wanted = names or topic_names(settings)
    admin = _admin(settings)
    try:
        timeout = settings.connect_timeout_seconds
        existing = set(_retrying(admin.list_topics, timeout))
        missing = [name for name in wanted if name not in existing]
        brokers = _broker_count(admin, timeout) if missing else 1
        created = []
        for name in missing:
            topic = new_topic(settings, name, brokers)
            try:
                _retrying(lambda topic=topic: admin.create_topics([topic]), timeout)
                created.append(name)
            except TopicAlreadyExistsError:
                log.debug("topic %s appeared concurrently", name)
        if created:
            _wait_listed(admin, created, settings.connect_timeout_seconds)
    finally:
        admin.close()
    if created:
        log.debug("created topics %s with %d partitions", created, settings.partitions)
    return created


def _broker_count(admin: KafkaAdminClient, timeout: float) -> int:
    return len(_retrying(admin.describe_cluster, timeout)["brokers"])


def _wait_listed(admin: KafkaAdminClient, names: list[str], timeout: float) -> None:
    """Wait (at most ``timeout`` s) until the metadata lists ``names`` with their partitions.

    Apache Kafka answers CreateTopics once its controller has the topics; its
    brokers learn of them a moment later, and a client asking in between is
    told they do not exist.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(
            topic["partitions"]
            for topic in _retrying(lambda: admin.describe_topics(names), timeout)
        ):
            return
        time.sleep(0.02)
    log.warning("topics %s not yet listed by the broker after %s s", names, timeout)


def partition_count(settings: Settings, topic: str) -> int:
    """How many partitions ``topic`` has (0 if it does not exist)."""
    admin = _admin(settings)
    try:
        described = _retrying(
            lambda: admin.describe_topics([topic]), settings.connect_timeout_seconds
        )
    finally:
        admin.close()
    return len(described[0]["partitions"]) if described else 0
