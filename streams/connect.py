"""Is a Kafka broker there? One bounded wait before any client connects.

Kafka clients retry a missing broker for half a minute or more, logging every
attempt, and then fail with a timeout that does not say where they looked.
Every client policysim opens waits here first, at most
the ``connect_timeout_seconds`` setting, so an address nobody answers on becomes one
sentence naming it, within seconds, and no client ever starts retrying.
"""

from __future__ import annotations

import socket
import time

from policysim.base.settings import Settings
from policysim.streams.broker import BrokerError, api_versions_ok
from policysim.streams.kafka_config import KafkaConfigError, bootstrap_of
from policysim.streams.sasl import login_problem

# Protocols whose listener answers a plain ApiVersions request (SASL authenticates after it).
_PLAIN_LISTENERS = ("PLAINTEXT", "SASL_PLAINTEXT")


class BrokerUnreachable(BrokerError):
    """No broker answered at the bootstrap address within the connect wait."""


class LoginRefused(BrokerUnreachable):
    """A broker answered but refused our SASL login (mechanism, user or password)."""


class TopicMissing(LookupError):
    """A topic a command reads or writes does not exist on the broker."""


def host_and_port(server: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6 literals) as a pair, or KafkaConfigError."""
    host, _, port = server.strip().rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not host or not 0 < number < 65536:
        raise KafkaConfigError(f"{server!r} is not a Kafka address HOST:PORT")
    return host.removeprefix("[").removesuffix("]"), number


def _answers(host: str, port: int, kafka_request: bool, timeout: float) -> bool:
    if kafka_request:
        return api_versions_ok(host, port, timeout)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_broker(settings: Settings, timeout: float | None = None) -> None:
    """Return once a bootstrap server answers; BrokerUnreachable after ``timeout`` seconds.

    A plaintext listener must answer a Kafka ``ApiVersions`` request (a port
    that accepts connections but is not Kafka does not count); a TLS listener
    must accept a connection. ``timeout`` defaults to the ``connect_timeout_seconds`` setting.
    With SASL, the first broker that answers must also accept our login
    (:class:`LoginRefused` otherwise): clients refused at login retry for ever.
    """
    wait = settings.connect_timeout_seconds if timeout is None else timeout
    bootstrap = bootstrap_of(settings)
    servers = [host_and_port(server) for server in bootstrap.split(",")]
    kafka_request = settings.security_protocol.upper() in _PLAIN_LISTENERS
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        for host, port in servers:
            remaining = deadline - time.monotonic()
            if _answers(host, port, kafka_request, min(max(remaining, 0.1), 1.0)):
                _check_login(settings, host, port, max(remaining, 1.0))
                return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerUnreachable(f"no Kafka broker answers at {bootstrap} (waited {wait:g} s)")
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.5)


def _check_login(settings: Settings, host: str, port: int, timeout: float) -> None:
    if not settings.security_protocol.upper().startswith("SASL"):
        return
    problem = login_problem(host, port, settings, timeout)
    if problem:
        raise LoginRefused(f"the Kafka broker at {host}:{port} refused our login: {problem}")
