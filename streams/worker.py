"""The enforcement worker: a Faust app whose agent turns connection events into verdicts.

Design choices forced by measurements on Faust and the embedded broker:

* Faust's aiokafka driver hard-codes ``fetch_max_wait_ms=1500`` and the broker
  holds every fetch that long, so :class:`_FetchWaitTransport` puts
  ``settings.fetch_max_wait_ms`` back into the consumer.
* Faust's per-message machinery is the cost to beat, so the agent reads with
  ``take_events`` and hands whole batches to :class:`BatchProcessor`; verdicts
  go out through one aiokafka producer with all sends of a batch in flight at
  once, and are acknowledged before the batch's offsets are acked.
* The registry comes from the registry file plus the ``registrations`` topic
  read from the beginning (:mod:`policysim.streams.registry_follower`), never from a
  Faust table changelog.
* A broker that lost the topics or the group's positions (the embedded one
  restarted, a topic recreated) is noticed by :class:`ResetWatch`, which
  drops readiness and reads the new topic from its start.
* The session timeout is short (a group join takes half of it) and Faust's web
  server is disabled, so nothing listens beyond the metrics port on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service

from policysim.base.settings import Settings
from policysim.policies.engine import Engine
from policysim.policies.language import load_policy
from policysim.policies.registry import Registry
from policysim.policies.registry_files import load_registry
from policysim.streams.kafka_config import aiokafka_kwargs, faust_broker_kwargs
from policysim.streams.metrics import WorkerMetrics
from policysim.streams.policy_watch import PolicyWatcher
from policysim.streams.processing import BatchProcessor, InMessage, OutRecord
from policysim.streams.record_batches import PartitionBatches
from policysim.streams.registry_follower import RegistryFollower
from policysim.streams.resets import ResetWatch
from policysim.streams.topics import ensure_topics

log = logging.getLogger(__name__)

READY_LINE = "policysim worker ready"


# Services defined here log their lifecycle ("Starting...", "Stopping...") at DEBUG:
# at INFO those lines buried what a person reads in a worker's output.
QUIET_LIFECYCLE = "debug"


class _FetchWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    mundane_level = QUIET_LIFECYCLE

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands this to its Fetcher at start(); Faust passed a constant.
        consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms
        return consumer


class _FetchWaitConsumer(faust_aiokafka.Consumer):
    mundane_level = QUIET_LIFECYCLE

    def _new_consumer_thread(self) -> _FetchWaitConsumerThread:
        return _FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _FetchWaitTransport(faust_aiokafka.Transport):
    Consumer = _FetchWaitConsumer


class WorkerApp(faust.App):
    """A Faust app whose consumer fetches with ``fetch_max_wait_ms`` from our settings."""

    fetch_max_wait_ms: int = 1500
    mundane_level = QUIET_LIFECYCLE

    def _new_transport(self) -> Any:
        return _FetchWaitTransport(self.conf.broker_consumer, self)


def make_app(settings: Settings, name: str) -> WorkerApp:
    """A Faust app configured from ``settings``: short session, no web server, raw bytes."""
    session = settings.session_timeout_ms / 1000
    datadir = Path(tempfile.gettempdir()) / "policysim-faust" / name
    datadir.mkdir(parents=True, exist_ok=True)
    app = WorkerApp(
        name,
        **faust_broker_kwargs(settings),
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        web_host="127.0.0.1",
        web_bind="127.0.0.1",
        datadir=str(datadir),
        store="memory://",
        topic_partitions=settings.partitions,
        topic_allow_declare=False,
        # No on_leader timers: without this Faust subscribes to a leader topic nobody makes.
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session,
        broker_heartbeat_interval=max(session / 6, 0.5),
        broker_commit_interval=1.0,
        broker_max_poll_records=settings.worker_take_max,
        worker_redirect_stdouts=False,
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    return app


def build_engine(policy_paths: Sequence[str | Path], registry_path: str | Path | None) -> Engine:
    """Load the registry file and every policy (the first is enforced) into an Engine."""
    registry = load_registry(registry_path) if registry_path else Registry()
    for problem in registry.problems:
        log.warning("registry line skipped: %s", problem)
    return Engine([load_policy(p) for p in policy_paths], registry)


class WorkerRuntime(Service):
    """Everything the agent needs besides Faust: producer, registry follower, watcher, metrics."""

    mundane_level = QUIET_LIFECYCLE

    def __init__(
        self,
        app: WorkerApp,
        settings: Settings,
        engine: Engine,
        policy_paths: Sequence[str | Path],
        metrics: WorkerMetrics,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.processor = BatchProcessor(
            engine,
            metrics,
            settings.topic_verdicts,
            settings.topic_dlq,
            settings.max_event_bytes,
        )
        self.follower = RegistryFollower(settings, engine.registry, metrics, self._registry_changed)
        self.watcher = PolicyWatcher(
            engine,
            policy_paths,
            metrics,
            settings.policy_watch_seconds,
            lambda: metrics.set_policies(engine.policies),
        )
        self.producer: AIOKafkaProducer | None = None
        self._partition_counts: dict[str, int] = {}
        self.processed: dict[Any, int] = {}
        self.assigned = asyncio.Event()
        self.announced = False
        self.resets = ResetWatch(app, settings, metrics, self.processed, lambda: self.announced)
        self._registry_changed()
        metrics.set_policies(engine.policies)

    def _registry_changed(self) -> None:
        self.metrics.set_registry(self.engine.registry.stats())

    async def on_start(self) -> None:
        self.producer = AIOKafkaProducer(
            client_id="policysim-worker",
            acks=self.settings.producer_acks,
            max_batch_size=1 << 20,
            **aiokafka_kwargs(self.settings),
        )
        await self.producer.start()
        await self.follower.start()
        self.add_future(self.follower.run())
        self.add_future(self.watcher.run())
        self.add_future(self._announce_ready())
        self.add_future(self._track_lag())
        self.add_future(self.resets.run())

    async def on_stop(self) -> None:
        self.metrics.ready.set(0)
        await self.follower.stop()
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def _announce_ready(self) -> None:
        await asyncio.gather(self.follower.caught_up.wait(), self.assigned.wait())
        # What exists now (registry, policies, Faust, the clients) lives as long as the worker:
        # out of the collector's reach, a full collection no longer walks it (27 ms at the
        # smallest registry, seconds at a national one) while events wait.
        gc.freeze()
        self.announced = True
        self.metrics.ready.set(1)
        log.info("%s: group %s", READY_LINE, self.settings.consumer_group)

    async def handle(self, messages: Sequence[InMessage]) -> None:
        """Process a batch and wait until its records are acknowledged by the broker."""
        result = self.processor.process(messages)
        if result.records:
            await asyncio.gather(*await self._send_batches(result.records))
        self.processor.observe_sent(result)
        processed = self.processed
        for m in messages:
            processed[(m.topic, m.partition)] = m.offset + 1

    async def _send_batches(self, records: list[OutRecord]) -> list[asyncio.Future]:
        """One record batch per (topic, partition): a send per message costs more than a verdict."""
        batches = PartitionBatches(self.producer)
        now_ms = int(time.time() * 1000)
        known = self._partition_counts
        for r in records:
            count = known.get(r.topic) or await self._partitions(r.topic)
            batches.append(r.topic, r.partition % count, r.key, r.value, r.headers, now_ms)
        return await batches.ship()

    async def _partitions(self, topic: str) -> int:
        count = self._partition_counts.get(topic)
        if count is None:
            count = self._partition_counts[topic] = len(await self.producer.partitions_for(topic))
        return count

    async def _track_lag(self) -> None:
        """Lag from the high-water marks of fetch responses, not ListOffsets (wrong here)."""
        gauge = self.metrics.consumer_lag
        while True:
            await asyncio.sleep(1.0)
            gauge.clear()
            assignment = [
                tp
                for tp in self.app.consumer.assignment()
                if tp.topic == self.settings.topic_connections
            ]
            self.metrics.assigned_partitions.set(len(assignment))
            for tp in assignment:
                high = self.app.consumer.highwater(tp)
                done = self.processed.get((tp.topic, tp.partition))
                if high is None or done is None:
                    continue
                gauge.labels(tp.topic, str(tp.partition)).set(max(high - done, 0))


def attach_agent(app: WorkerApp, runtime: WorkerRuntime, settings: Settings) -> None:
    """The enforcement agent: batches of messages from ``connections`` to the runtime."""
    topic = app.topic(settings.topic_connections, value_serializer="raw", key_serializer="raw")
    within = settings.worker_take_within_ms / 1000

    async def enforce(stream: Any) -> None:
        async for events in stream.take_events(settings.worker_take_max, within=within):
            # Faust's messages carry the attributes the processor reads (see InMessage).
            await runtime.handle([e.message for e in events])

    app.agent(topic, name="policysim.enforce", concurrency=1)(enforce)

    @app.on_rebalance_complete.connect
    async def _assigned(sender: Any, **kwargs: Any) -> None:
        runtime.assigned.set()


def run_worker(settings: Settings, engine: Engine, policy_paths: Sequence[str | Path]) -> int:
    """Run a worker until SIGINT/SIGTERM; return its exit code (0 on a clean stop).

    ``engine`` holds the policies loaded from ``policy_paths`` (watched for
    changes) and the registry loaded from its file.
    """
    ensure_topics(settings)
    metrics = WorkerMetrics()
    port = metrics.serve(settings.metrics_host, settings.metrics_port)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, port)
    app = make_app(settings, settings.consumer_group)
    runtime = WorkerRuntime(app, settings, engine, policy_paths, metrics)
    attach_agent(app, runtime, settings)
    return run_faust(app, runtime, loglevel=settings.log_level)


def run_faust(app: faust.App, *services: Service, loglevel: str) -> int:
    """Run a Faust app (and ``services`` beside it) until SIGINT/SIGTERM; its exit code.

    Faust's banner, its stdout redirection and its own logging set-up are off:
    the process's logging set-up (the command line's, or a child worker's log
    file) decides what of Faust's and the Kafka clients' logging is shown.
    """
    worker = faust.Worker(
        app,
        *services,
        loglevel=loglevel,
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
        loop=asyncio.new_event_loop(),
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
