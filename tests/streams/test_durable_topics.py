"""The ``durable`` setting: replicated topics and producers that wait for every in-sync replica."""

from __future__ import annotations

import pytest

from policysim.base.settings import load_settings
from policysim.streams.topics import new_topic


@pytest.mark.parametrize(
    ("brokers", "replicas", "insync"), [(1, 1, "1"), (2, 2, "2"), (3, 3, "2"), (5, 3, "2")]
)
def test_a_durable_topic_has_three_replicas_two_in_sync_at_most_the_brokers(
    brokers: int, replicas: int, insync: str
) -> None:
    topic = new_topic(load_settings(environ={}, durable=True), "verdicts", brokers)
    assert (topic.num_partitions, topic.replication_factor) == (8, replicas)
    assert topic.topic_configs == {"min.insync.replicas": insync}


@pytest.mark.parametrize(("brokers", "replicas"), [(1, 1), (3, 3), (5, 3)])
def test_by_default_replicated_as_the_cluster_allows_and_the_leader_acknowledges(
    brokers: int, replicas: int
) -> None:
    settings = load_settings(environ={})
    topic = new_topic(settings, "verdicts", brokers)
    assert (topic.replication_factor, topic.topic_configs) == (replicas, {})
    assert settings.producer_acks == 1


def test_durable_producers_wait_for_all_and_the_environment_can_ask_for_it() -> None:
    settings = load_settings(environ={"POLICYSIM_DURABLE": "true"})
    assert settings.durable and settings.producer_acks == "all"
