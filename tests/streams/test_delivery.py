"""A producer's delivery count: acknowledged, failed, and lost to a broker that came back empty."""

from __future__ import annotations

from policysim.base.settings import load_settings
from policysim.streams.producers import Delivery, Producer


class _Counting(Producer):
    """The accounting of :class:`Producer` alone (no client)."""

    async def _connect(self) -> int:
        return 2

    async def send(self, partition, key, value, sent_at, events=1) -> None:
        self.messages += 1
        self.events += events

    async def stop(self) -> None:
        return None


def test_acknowledged_and_failed_events_add_up() -> None:
    producer = _Counting(load_settings(environ={}), "t")
    producer.events = 10
    producer._acknowledged(4, 0, 0)
    producer._acknowledged(3, 1, 0)
    producer._failed(3, TimeoutError("gone"))
    assert producer.delivery == Delivery(10, 7, 3, "TimeoutError('gone')")


def test_an_offset_going_back_counts_the_partitions_earlier_events_as_lost() -> None:
    producer = _Counting(load_settings(environ={}), "t")
    producer.events = 20
    for offset in (0, 5, 10):
        producer._acknowledged(5, 0, offset)  # 15 events on partition 0
    producer._acknowledged(2, 1, 0)
    producer._acknowledged(3, 0, 0)  # partition 0 starts again: the broker lost 15
    assert producer.delivery == Delivery(20, 5, 15, "the broker restarted empty")
    assert producer.resets == 1
