"""PartitionBatches: the one fill-and-ship loop of the worker and the aiokafka-batch producer."""

from __future__ import annotations

import asyncio

import pytest

from policysim.streams.record_batches import PartitionBatches


class _Batch:
    """An aiokafka record batch stand-in holding ``size`` records."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.records: list[tuple] = []

    def append(self, *, key, value, timestamp, headers):
        if len(self.records) >= self.size or len(value) > 100:
            return None
        self.records.append((key, value, timestamp, tuple(headers)))
        return object()

    def record_count(self) -> int:
        return len(self.records)


class _Producer:
    def __init__(self, size: int = 2) -> None:
        self.size = size
        self.sent: list[tuple[str, int, list]] = []

    def create_batch(self) -> _Batch:
        return _Batch(self.size)

    async def send_batch(self, batch: _Batch, topic: str, partition: int):
        self.sent.append((topic, partition, [r[1] for r in batch.records]))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def _fill(batches: PartitionBatches, values: list[tuple[str, int, bytes]]) -> None:
    for topic, partition, value in values:
        batches.append(topic, partition, None, value, [("sent_at", b"1")], 5)


def test_full_batches_go_first_and_each_partition_stays_in_order() -> None:
    producer = _Producer(size=2)
    batches = PartitionBatches(producer)
    _fill(batches, [("v", 0, b"a"), ("v", 1, b"x"), ("v", 0, b"b"), ("v", 0, b"c"), ("d", 0, b"q")])
    assert batches.has_full
    futures = asyncio.run(batches.ship())
    assert len(futures) == len(producer.sent) == 4
    assert producer.sent[0] == ("v", 0, [b"a", b"b"])
    assert sorted(producer.sent[1:]) == [("d", 0, [b"q"]), ("v", 0, [b"c"]), ("v", 1, [b"x"])]
    assert not batches.has_full
    assert asyncio.run(batches.ship()) == []


def test_only_full_batches_or_only_old_ones_when_asked() -> None:
    producer = _Producer(size=2)
    batches = PartitionBatches(producer)
    _fill(batches, [("t", 0, b"a"), ("t", 0, b"b"), ("t", 0, b"c")])
    asyncio.run(batches.ship(float("-inf")))
    assert producer.sent == [("t", 0, [b"a", b"b"])]
    asyncio.run(batches.ship(0.0))  # opened after time 0 of the monotonic clock: not due
    assert len(producer.sent) == 1
    asyncio.run(batches.ship(float("inf")))
    assert producer.sent[-1] == ("t", 0, [b"c"])


def test_a_record_larger_than_a_batch_is_refused() -> None:
    batches = PartitionBatches(_Producer())
    with pytest.raises(ValueError, match="exceeds the batch size"):
        _fill(batches, [("t", 0, b"x" * 101)])


def test_shipped_batches_carry_the_weight_of_their_records() -> None:
    batches = PartitionBatches(_Producer(size=2))
    for weight, value in ((3, b"a"), (4, b"b"), (5, b"c")):
        batches.append("t", 0, None, value, [], weight=weight)
    shipped = asyncio.run(batches.ship_weighted())
    assert [weight for _, weight in shipped] == [7, 5]


def test_a_batch_is_as_old_as_the_oldest_content_it_holds() -> None:
    """An envelope that already waited its linger makes its batch due: no second wait."""
    producer = _Producer(size=10)
    batches = PartitionBatches(producer)
    batches.append("t", 0, None, b"fresh", [])
    batches.append("t", 1, None, b"fresh", [])
    batches.append("t", 1, None, b"old", [], opened=5.0)  # buffered at monotonic time 5
    asyncio.run(batches.ship(10.0))  # due: opened at or before 10
    assert producer.sent == [("t", 1, [b"fresh", b"old"])]
