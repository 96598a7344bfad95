"""The broker engines, and ``policysim broker``: a broker with the pipeline's topics, until stopped.

Two engines start a Kafka on loopback: ``tansu`` (the embedded broker, in
memory, no JVM) and ``apache`` (Apache Kafka from the jars ``make kafka``
fetches, a KRaft cluster of one or more nodes). :func:`embedded_broker` is the
one place that picks between them, for the pipeline, the benchmarks and the
``broker`` command.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from policysim.app.errors import BadInput, RunFailed
from policysim.app.outputs import output_file
from policysim.base.settings import Settings

if TYPE_CHECKING:
    from policysim.streams.broker import Broker

ENGINES = ("tansu", "apache")
ENGINE_TITLES = {"tansu": "the embedded broker", "apache": "Apache Kafka from make kafka's jars"}
AUTO = "auto"


def pick_engine(engine: str, long_runs: bool = False) -> str:
    """The engine ``auto`` (the broker_engine setting's default) stands for; others as given.

    The embedded broker keeps every record in memory and its fetches slow down as
    topics grow (docs/benchmarks.md, the soak), so for long runs ``auto`` takes
    Apache Kafka wherever ``make kafka`` has fetched the jars and a JDK runs;
    otherwise, and for every short run, the embedded tansu, which needs nothing
    but Python.
    """
    if engine != AUTO:
        return engine
    if long_runs:
        from policysim.streams.kafka.cluster import unavailable_reason

        if not unavailable_reason():
            return "apache"
    return "tansu"


def check_engine(engine: str, nodes: int = 1) -> str:
    """The engine to start (``auto`` resolved); BadInput (exit 2) unless it can start ``nodes``
    nodes here, saying what to run."""
    engine = pick_engine(engine)
    if engine not in ENGINES:
        raise BadInput(f"broker engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if nodes < 1:
        raise BadInput(f"--nodes {nodes}: a cluster has at least 1 node")
    if engine == "tansu" and nodes != 1:
        raise BadInput(f"--nodes {nodes}: the tansu engine runs 1 node; use --engine apache")
    if engine == "apache":
        from policysim.streams.kafka.cluster import unavailable_reason

        reason = unavailable_reason()
        if reason:
            raise BadInput(reason)
    return engine


def embedded_broker(engine: str, log_path: Path | None, nodes: int = 1, port: int = 0) -> Broker:
    """A broker of ``engine``, not started yet (BadInput when it cannot run here)."""
    engine = check_engine(engine, nodes)
    if engine == "apache":
        from policysim.streams.kafka.cluster import ApacheKafka

        return ApacheKafka(nodes=nodes, port=port, log_path=log_path)
    from policysim.streams.broker import EmbeddedBroker

    return EmbeddedBroker(port=port, log_path=log_path)


def serve_broker(
    settings: Settings,
    port: int,
    log_file: str | None,
    announce: Callable[[str], None],
    nodes: int = 1,
) -> int:
    """Start the broker, create the topics, ``announce`` the bootstrap, run until SIGINT/SIGTERM.

    The engine is the ``broker_engine`` setting. Returns the broker's exit code
    if it ends by itself; Ctrl-C and SIGTERM raise KeyboardInterrupt after the
    broker is stopped (and an Apache cluster's data folder removed).
    """
    from policysim.streams.broker import BrokerError, port_taken
    from policysim.streams.topics import ensure_topics

    if not 0 <= port < 65536:
        raise BadInput(f"--port {port}: a port is 1 to 65535 (0 picks a free one)")
    if log_file:
        output_file(log_file, "--log-file")
    if port and port_taken(port):
        raise BadInput(f"--port {port}: something already listens on 127.0.0.1:{port}")
    broker = embedded_broker(
        settings.broker_engine, Path(log_file) if log_file else None, nodes, port
    )
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(signum, signal.default_int_handler)
    try:
        with broker:
            ensure_topics(settings.replace(bootstrap=broker.bootstrap))
            announce(broker.bootstrap)
            return broker.wait()
    except BrokerError as exc:
        raise RunFailed(str(exc)) from exc
