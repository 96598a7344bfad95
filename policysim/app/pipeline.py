"""The whole pipeline in one process tree: broker, topics, a worker, events in, verdicts out.

``policysim up``, ``policysim run`` (the report) and the pipeline benchmark
all go through :class:`Pipeline`, so the path they measure and report on is
the one a deployment runs: events are produced with the simulators' Kafka
sink (envelopes, ``sent_at`` headers, open-loop pacing), a separate worker
process evaluates them, and verdicts are read back from the topic.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from policysim.app.broker import embedded_broker
from policysim.app.worker_process import WorkerProcess, sample_sum
from policysim.base.settings import Settings
from policysim.simulators.pacing import PumpResult, at_rate, send_all
from policysim.streams.broker import Broker
from policysim.streams.kafka_sink import KafkaSink, KafkaTarget
from policysim.streams.producers import DEFAULT_PRODUCER
from policysim.streams.reading import flatten, iter_topic
from policysim.streams.topics import ensure_topics

log = logging.getLogger(__name__)

EventItem = bytes | tuple[str, bytes]


def _with_source(items: Iterable[EventItem]) -> Iterable[tuple[str, bytes]]:
    """``(src, line)`` pairs; a bare line's ``src`` is read from it (partitioning needs it)."""
    for item in items:
        if isinstance(item, tuple):
            yield item
            continue
        try:
            src = str(orjson.loads(item).get("src", ""))
        except (orjson.JSONDecodeError, AttributeError):
            src = ""
        yield src, item


@dataclass
class PipelineCounts:
    """What went in and what came out of one run.

    Of ``events_sent``, the broker acknowledged ``events_acknowledged`` and lost
    ``events_lost``; the worker is waited for only for the acknowledged ones.
    """

    events_sent: int
    messages_sent: int
    events_evaluated: int
    events_rejected: int
    verdicts: int
    send_seconds: float
    events_acknowledged: int = 0
    events_lost: int = 0


class Pipeline:
    """A running broker (one of ``settings.broker_engine`` unless ``settings.bootstrap`` is set),
    topics and one worker.

    Use as a context manager; on exit the worker gets SIGTERM and the embedded
    broker (with its in-memory topics) is stopped.
    """

    def __init__(
        self,
        settings: Settings,
        policies: Sequence[str | Path],
        registry: str | Path | None,
        log_dir: str | Path | None = None,
        metrics_port: int | None = None,
    ) -> None:
        self.settings = settings
        self.policies = [str(p) for p in policies]
        self.registry = registry
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="policysim-pipeline-"))
        self.metrics_port = settings.metrics_port if metrics_port is None else metrics_port
        self.broker: Broker | None = None
        self.worker: WorkerProcess | None = None
        self._stack = ExitStack()

    def __enter__(self) -> Pipeline:
        try:
            if not self.settings.bootstrap:
                engine = self.settings.broker_engine
                broker = embedded_broker(engine, self.log_dir / "broker.log")
                self.broker = self._stack.enter_context(broker)
                self.settings = self.settings.replace(bootstrap=self.broker.bootstrap)
            ensure_topics(self.settings)
            self.worker = WorkerProcess(
                self.settings,
                self.policies,
                self.registry,
                self.log_dir / "worker.log",
                self.metrics_port,
            )
            self._stack.enter_context(self.worker)
            self.worker.wait_ready()
        except BaseException:
            self._stack.close()
            raise
        log.debug("pipeline ready: bootstrap %s, metrics %s", self.bootstrap, self.metrics_url)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def bootstrap(self) -> str:
        return self.settings.bootstrap

    @property
    def metrics_url(self) -> str:
        return self.worker.metrics_url if self.worker else ""

    def send(
        self,
        events: Iterable[EventItem],
        on_sent: Callable[[int], None] | None = None,
        rate: float | None = None,
        batch: int | None = None,
    ) -> PumpResult:
        """Produce events to ``connections`` in envelopes of ``batch`` (open loop at ``rate``)."""
        target = KafkaTarget(self.bootstrap, self.settings.topic_connections)
        sink = KafkaSink(
            self.settings,
            target,
            DEFAULT_PRODUCER,
            batch or self.settings.batch,
            self.settings.linger_ms / 1000.0,
        )

        items = at_rate(_with_source(events), rate)
        return asyncio.run(send_all(items, sink, target_rate=rate, progress=on_sent))

    def wait_evaluated(self, events: int, timeout: float = 600.0) -> tuple[int, int]:
        """Wait until the worker decided or rejected ``events``; return (evaluated, rejected)."""
        assert self.worker is not None
        samples = self.worker.wait_for(
            lambda m: (
                sample_sum(m, "policysim_events_total")
                + sample_sum(m, "policysim_events_rejected_total")
                >= events
            ),
            timeout,
            f"done with {events} events",
        )
        return (
            int(sample_sum(samples, "policysim_events_total")),
            int(sample_sum(samples, "policysim_events_rejected_total")),
        )

    def collect(
        self,
        out: IO[bytes] | None,
        expected: Callable[[], int | None],
        timeout: float = 3600.0,
    ) -> int:
        """Copy the verdicts topic to ``out`` as JSON lines until ``expected()`` have arrived.

        ``expected()`` is None while the count is not known yet (events still
        going out); reading goes on meanwhile so verdicts stream as they come.
        """
        received = 0

        def done(_messages: int) -> bool:
            wanted = expected()
            return wanted is not None and received >= wanted

        topic = self.settings.topic_verdicts
        for record in iter_topic(self.settings, topic, float("inf"), timeout, done):
            items = flatten(record.value)
            received += len(items)
            if out is not None:
                out.write(b"".join(orjson.dumps(item) + b"\n" for item in items))
        return received

    def run(
        self,
        events: Iterable[EventItem],
        out: IO[bytes] | None,
        on_sent: Callable[[int], None] | None = None,
        rate: float | None = None,
        batch: int | None = None,
    ) -> PipelineCounts:
        """Send, wait for the worker, and copy every verdict to ``out`` while it streams."""
        expected: list[int] = []
        collected: list[int] = []

        def reader() -> None:
            collected.append(self.collect(out, lambda: expected[0] if expected else None))

        thread = threading.Thread(target=reader, name="verdict-reader", daemon=True)
        thread.start()
        try:
            sent = self.send(events, on_sent, rate, batch)
            if sent.lost:
                log.warning("the broker lost %s of %s events: %s", sent.lost, sent.events,
                            sent.first_error)  # fmt: skip
            evaluated, rejected = self.wait_evaluated(sent.acknowledged)
            expected.append(evaluated * len(self.policies))
        finally:
            if not expected:
                expected.append(0)
            thread.join()
        return PipelineCounts(
            sent.events,
            sent.messages,
            evaluated,
            rejected,
            collected[0],
            sent.elapsed,
            sent.acknowledged,
            sent.lost,
        )


def run_pipeline(
    settings: Settings,
    policies: Sequence[str | Path],
    registry: str | Path | None,
    events: Iterable[EventItem],
    out: IO[bytes] | None,
    on_sent: Callable[[int], None] | None = None,
    *,
    rate: float | None = None,
    batch: int | None = None,
    log_dir: str | Path | None = None,
) -> PipelineCounts:
    """Stream ``events`` through a broker and one worker; write every verdict to ``out``.

    ``events`` are JSON lines (bytes) or ``(src, line)`` pairs; ``out`` gets one
    verdict JSON object per line (envelopes flattened) via ``out.write``;
    ``on_sent(n)`` is told as events go out. The embedded broker is used unless
    ``settings.bootstrap`` names a cluster. Returns what went in and came out
    (events sent, acknowledged, lost, rejected, ...); the broker and worker are
    stopped before returning.
    """
    with Pipeline(settings, policies, registry, log_dir, metrics_port=0) as pipeline:
        return pipeline.run(events, out, on_sent, rate, batch)
