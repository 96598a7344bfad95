"""Open-loop pacing and envelopes."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.simulators.pacing import at_rate, pump, send_all
from policysim.simulators.sinks import MemorySink
from policysim.streams.envelopes import Enveloper, partition_of
from policysim.streams.kafka_sink import TargetError, parse_kafka_target


def _items(n: int) -> list[tuple[str, bytes]]:
    return [(f"10.0.{i % 7}.{i % 250}", b'{"n":%d}' % i) for i in range(n)]


def test_real_clock_holds_the_rate_with_a_fast_sink() -> None:
    rate, count = 20_000.0, 40_000
    sink = MemorySink()
    result = asyncio.run(pump(at_rate(_items(count), rate), sink, target_rate=rate))
    assert result.events == count
    achieved = count / result.elapsed
    assert 0.9 * rate <= achieved <= 1.01 * rate  # never ahead of the schedule
    # A stall shifts events into the next second (the backlog is sent at once), so allow that.
    assert result.per_second and all(0.5 * rate <= n <= 1.5 * rate for n in result.per_second)
    start_wall = sink.items[0][0]
    for i, (sent_at, _, _) in enumerate(sink.items):
        assert sent_at == pytest.approx(start_wall + i / rate, abs=1e-6)


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class _StallingSink(MemorySink):
    """Each put costs `cost` seconds of (fake) time: a sink slower than the offered rate."""

    def __init__(self, clock: _FakeClock, cost: float, stall_until: int) -> None:
        super().__init__(clock=clock)
        self.fake, self.cost, self.stall_until = clock, cost, stall_until

    async def put(self, src: str, value: bytes, sent_at: float) -> None:
        await super().put(src, value, sent_at)
        if self.events <= self.stall_until:
            self.fake.now += self.cost


def test_no_coordinated_omission_when_the_sink_stalls() -> None:
    """A stall does not move the schedule: stamps stay on it, the backlog is sent at once."""
    clock = _FakeClock()
    rate = 1000.0
    sink = _StallingSink(clock, cost=0.01, stall_until=100)  # 10x slower for 100 events
    result = asyncio.run(
        pump(
            at_rate(_items(3000), rate),
            sink,
            target_rate=rate,
            clock=clock,
            wall=lambda: 1_000.0,
            sleep=clock.sleep,
        )
    )
    stamps = [sent_at for sent_at, _, _ in sink.items]
    assert stamps == [pytest.approx(1_000.0 + i / rate) for i in range(3000)]
    puts = [at for _, at, _ in sink.items]
    assert puts[100] == pytest.approx(1.0)  # event 100 waited: the stall, not the schedule
    assert max(puts[i] - i / rate for i in range(3000)) == pytest.approx(0.9, abs=0.01)
    assert puts[-1] == pytest.approx(2.999, abs=1e-3)  # caught up: the run ends on schedule
    assert result.events == 3000


def test_unpaced_sends_everything_immediately() -> None:
    clock = _FakeClock()
    sink = MemorySink(clock=clock)
    result = asyncio.run(pump(at_rate(_items(500), None), sink, clock=clock, sleep=clock.sleep))
    assert result.events == 500 and clock.now == 0.0


def test_envelopes_fill_linger_and_keep_a_source_on_one_partition() -> None:
    env = Enveloper(partitions=4, batch=3, linger=0.02)
    out = []
    for i in range(7):
        at = float(i) * 0.001
        message = env.add("10.1.1.1", b'{"i":%d}' % i, 100.0 + i, now=lambda at=at: at)
        if message:
            out.append(message)
    assert [m.events for m in out] == [3, 3]
    assert json.loads(out[0].value) == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert out[0].sent_at == 100.0 and out[1].sent_at == 103.0
    assert (out[0].opened, out[1].opened) == (0.0, 0.003)  # when each first event was buffered
    assert {m.partition for m in out} == {partition_of("10.1.1.1", 4)}
    assert env.expired(now=0.01) == []
    [last] = env.expired(now=0.03)
    assert last.events == 1 and json.loads(last.value) == {"i": 6} and last.key == b"10.1.1.1"
    assert env.drain() == []


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=400), max_size=60),
    batch=st.integers(min_value=2, max_value=20),
    max_bytes=st.integers(min_value=50, max_value=1000),
)
def test_envelopes_close_early_rather_than_cross_the_size_limit(
    sizes: list[int], batch: int, max_bytes: int
) -> None:
    env = Enveloper(partitions=2, batch=batch, linger=10.0, max_bytes=max_bytes)
    values = [b'"%s"' % (b"x" * (n - 2 if n > 2 else 0)) for n in sizes]
    out = [m for v in values if (m := env.add("10.1.1.1", v, 0.0, now=lambda: 0.0))]
    out += env.drain()
    sent = [item for m in out for item in (json.loads(m.value) if m.events > 1 else [m.value])]
    sent = [item if isinstance(item, str) else json.loads(item) for item in sent]
    assert sent == [json.loads(v) for v in values]  # all of them, in order
    for m in out:
        assert m.events <= batch
        assert m.events == 1 or len(m.value) <= max_bytes


def test_batch_one_keeps_plain_messages_keyed_by_source() -> None:
    env = Enveloper(partitions=8, batch=1, linger=0.02)
    message = env.add("2001:db8::1", b"{}", sent_at=1.0)
    assert message is not None and message.key == b"2001:db8::1" and message.value == b"{}"
    assert message.opened is None  # it never waited


def test_linger_flushes_while_a_paced_run_waits() -> None:
    """At a low rate an envelope goes out after `linger`, not when it is full."""

    class Recorder:
        def __init__(self, clock: _FakeClock) -> None:
            self.events = self.messages = 0
            self.clock = clock
            self.env = Enveloper(1, 100, 0.02)
            self.sent: list[tuple[float, int]] = []

        async def put(self, src: str, value: bytes, sent_at: float) -> None:
            self.events += 1
            if (m := self.env.add(src, value, sent_at, self.clock)) is not None:
                self.sent.append((self.clock(), m.events))

        async def tick(self) -> None:
            for m in self.env.expired(self.clock()):
                self.sent.append((self.clock(), m.events))

        def next_deadline(self) -> float | None:
            return self.env.next_deadline()

        async def close(self) -> None:
            return None

    clock = _FakeClock()
    sink = Recorder(clock)
    asyncio.run(pump(at_rate(_items(50), 100.0), sink, clock=clock, sleep=clock.sleep))
    assert sink.sent and all(n <= 3 for _, n in sink.sent)


def test_kafka_target_parsing() -> None:
    target = parse_kafka_target("kafka://127.0.0.1:9092/connections")
    assert (target.bootstrap, target.topic) == ("127.0.0.1:9092", "connections")
    for bad in ("127.0.0.1:9092/x", "kafka://127.0.0.1:9092", "kafka:///x"):
        with pytest.raises(TargetError):
            parse_kafka_target(bad)


class _RecordingSink(MemorySink):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")

    async def close(self) -> None:
        self.calls.append("close")


def test_send_all_starts_pumps_and_closes_even_when_the_items_fail() -> None:
    sink = _RecordingSink()
    result = asyncio.run(send_all(at_rate(_items(5), None), sink))
    assert (result.events, result.messages, sink.calls) == (5, 5, ["start", "close"])

    def failing():
        yield from at_rate(_items(2), None)
        raise OSError("disk gone")

    sink = _RecordingSink()
    with pytest.raises(OSError, match="disk gone"):
        asyncio.run(send_all(failing(), sink))
    assert sink.calls == ["start", "close"] and sink.events == 2
