"""Apache Kafka on loopback: ``nodes`` KRaft JVMs (combined broker and controller each).

Each start gets a fresh data folder (removed on :meth:`ApacheKafka.stop`) and a
new cluster id; every node's storage is formatted before its server starts.
Readiness is a real Kafka request, as for the embedded broker: every node
answers ``ApiVersions`` and the metadata lists every broker.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from policysim.streams.broker import (
    LOOPBACK,
    Broker,
    BrokerError,
    api_versions_ok,
    brokers_registered,
    free_port,
)
from policysim.streams.kafka.server_settings import node_properties, properties_text

log = logging.getLogger(__name__)

LIB_DIR = Path(__file__).parent / "lib"
MIN_JAVA = 17
# A small heap (the compose file's KAFKA_HEAP_OPTS too) and the JVM flags of Kafka's own start
# script: a broker for development and tests on a small, shared machine.
HEAP_OPTIONS = ("-Xms128m", "-Xmx512m")
JVM_OPTIONS = (
    *HEAP_OPTIONS,
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-Djava.awt.headless=true",
    "-Dorg.apache.logging.log4j.level=INFO",
)
SERVER_MAIN = "kafka.Kafka"
STORAGE_MAIN = "kafka.tools.StorageTool"
WHAT_TO_RUN = "run `make kafka` in the checkout (it needs Maven and a JDK 17+)"


class KafkaUnavailable(BrokerError):
    """No JDK 17+ or no Kafka jars here: the message says what to run."""


@functools.cache
def _java_version(java: str) -> int:
    """The major version of ``java`` (0 if it cannot tell)."""
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr)
    if not found:
        return 0
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def java_command() -> str:
    """The ``java`` to run Kafka with (17 or newer), or KafkaUnavailable."""
    java = shutil.which("java")
    if java is None:
        raise KafkaUnavailable(
            f"Apache Kafka needs Java {MIN_JAVA}+ and none is on PATH: "
            f"install a JDK {MIN_JAVA}+, then {WHAT_TO_RUN}"
        )
    version = _java_version(java)
    if version < MIN_JAVA:
        raise KafkaUnavailable(
            f"Apache Kafka needs Java {MIN_JAVA}+ and {java} is Java "
            f"{version or 'of unknown version'}: install a JDK {MIN_JAVA}+"
        )
    return java


def classpath() -> str:
    """The jars' class path, or KafkaUnavailable when they have not been fetched."""
    if not any(LIB_DIR.glob("kafka_2.13-*.jar")):
        raise KafkaUnavailable(f"Apache Kafka's jars are not in {LIB_DIR}: {WHAT_TO_RUN}")
    return str(LIB_DIR / "*")


def unavailable_reason() -> str:
    """Why Apache Kafka cannot start here ('' when it can): for skips and start-up checks."""
    try:
        java_command()
        classpath()
    except KafkaUnavailable as exc:
        return str(exc)
    return ""


def new_cluster_id() -> str:
    """A random KRaft cluster id (a UUID in URL-safe base64, as ``kafka-storage random-uuid``).

    Like Kafka's own ``Uuid.randomUuid``, it never starts with "-": the storage tool would read
    such an id as a flag and refuse to format (one start in 32 failed that way)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class ApacheKafka(Broker):
    """``nodes`` Apache Kafka servers on 127.0.0.1; node 1 listens on ``port`` (0: a free one).

    Use as a context manager, or call :meth:`start` and :meth:`stop`. Node 1's
    output goes to ``log_path``, node N's to the same name with ``-N`` added.
    """

    def __init__(
        self,
        nodes: int = 1,
        port: int = 0,
        log_path: str | Path | None = None,
        start_timeout: float = 90.0,
    ) -> None:
        if nodes < 1:
            raise ValueError(f"a cluster has at least one node, not {nodes}")
        self.host = LOOPBACK
        self.port = port or free_port()
        self.nodes = nodes
        self.log_path = Path(
            log_path or Path(tempfile.gettempdir()) / f"policysim-kafka-{self.port}.log"
        )
        self.start_timeout = start_timeout
        self.ports = [(self.port, free_port())] + [
            (free_port(), free_port()) for _ in range(nodes - 1)
        ]
        self.data_dir: Path | None = None
        self._processes: list[subprocess.Popen[bytes] | None] = [None] * nodes

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT`` of every node, comma-separated, for Kafka clients."""
        return ",".join(f"{self.host}:{client}" for client, _ in self.ports)

    @property
    def running(self) -> bool:
        return any(p is not None and p.poll() is None for p in self._processes)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p is not None and p.poll() is None]

    def node_log(self, node_id: int) -> Path:
        """Where node ``node_id`` (1-based) writes its output."""
        if node_id == 1:
            return self.log_path
        return self.log_path.with_name(f"{self.log_path.stem}-{node_id}{self.log_path.suffix}")

    def start(self) -> ApacheKafka:
        """Format fresh storage (first start only), start every node, wait until all serve."""
        if self.running:
            return self
        java, jars = java_command(), classpath()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.data_dir is None:
                self.data_dir = Path(tempfile.mkdtemp(prefix="policysim-kafka-"))
                self._format(java, jars)
            for node_id in range(1, self.nodes + 1):
                self.start_node(node_id)
            self._wait_ready()
        except BaseException:  # Ctrl-C while starting too: no JVM or data folder left behind
            self.stop()
            raise
        log.debug(
            "Apache Kafka (%d nodes) on %s, data in %s", self.nodes, self.bootstrap, self.data_dir
        )
        return self

    def _config(self, node_id: int) -> Path:
        assert self.data_dir is not None
        path = self.data_dir / f"server-{node_id}.properties"
        if not path.exists():
            logs = self.data_dir / f"node-{node_id}"
            path.write_text(properties_text(node_properties(node_id, self.ports, logs)))
        return path

    def _format(self, java: str, jars: str) -> None:
        """``kafka-storage format`` for every node at once (one JVM each), same cluster id."""
        cluster_id = new_cluster_id()
        formats = []
        for node_id in range(1, self.nodes + 1):
            command = [java, "-cp", jars, STORAGE_MAIN, "format", "-t", cluster_id]
            with self.node_log(node_id).open("ab") as out:
                formats.append(
                    subprocess.Popen(
                        [*command, "-c", str(self._config(node_id))],
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        for node_id, process in enumerate(formats, start=1):
            if process.wait() != 0:
                raise BrokerError(
                    f"formatting Kafka storage failed (exit {process.returncode}); "
                    f"see {self.node_log(node_id)}"
                )

    def start_node(self, node_id: int) -> None:
        """Start node ``node_id`` (1-based) on its formatted storage, not waiting for it."""
        process = self._processes[node_id - 1]
        if process is not None and process.poll() is None:
            return
        command = [java_command(), *JVM_OPTIONS, "-cp", classpath(), SERVER_MAIN]
        with self.node_log(node_id).open("ab") as out:
            self._processes[node_id - 1] = subprocess.Popen(
                [*command, str(self._config(node_id))],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for node_id, process in enumerate(self._processes, start=1):
                if process is not None and process.poll() is not None:
                    raise BrokerError(
                        f"Kafka node {node_id} exited with code {process.returncode} on start; "
                        f"see {self.node_log(node_id)}"
                    )
            if self.serving():
                return
            time.sleep(0.1)
        raise BrokerError(
            f"Apache Kafka not ready on {self.bootstrap} after {self.start_timeout} s; "
            f"see {self.log_path}"
        )

    def serving(self) -> bool:
        """Whether every node answers Kafka requests and the metadata lists all of them."""
        return all(api_versions_ok(self.host, client) for client, _ in self.ports) and (
            brokers_registered(self.host, self.port) == self.nodes
        )

    def kill_node(self, node_id: int) -> None:
        """SIGKILL node ``node_id`` (1-based), as a crash would; :meth:`start_node` restarts it."""
        process = self._processes[node_id - 1]
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Kill every node at once; :meth:`start` brings them back on the same data."""
        for node_id in range(1, self.nodes + 1):
            self.kill_node(node_id)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every node together (SIGKILL if one lingers), reap them, remove the data."""
        alive = [p for p in self._processes if p is not None and p.poll() is None]
        for process in alive:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in alive:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("Kafka node did not stop within %s s; killing it", timeout)
                process.kill()
                process.wait()
        self._processes = [None] * self.nodes
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def wait(self) -> int:
        """Block until a node ends by itself; its exit code."""
        while True:
            for process in self._processes:
                if process is not None and process.poll() is not None:
                    return process.returncode
            if not any(self._processes):
                return 0
            time.sleep(0.2)
