"""``policysim broker``: the embedded broker with the pipeline's topics, until stopped."""

from __future__ import annotations

import signal
from collections.abc import Callable

from policysim.app.errors import BadInput, RunFailed
from policysim.app.outputs import output_file
from policysim.base.settings import Settings


def serve_broker(
    settings: Settings, port: int, log_file: str | None, announce: Callable[[str], None]
) -> int:
    """Start the broker, create the topics, ``announce`` HOST:PORT, run until SIGINT/SIGTERM.

    Returns the broker's exit code if it ends by itself; Ctrl-C and SIGTERM
    raise KeyboardInterrupt after the broker is stopped.
    """
    from policysim.streams.broker import BrokerError, EmbeddedBroker, port_taken
    from policysim.streams.topics import ensure_topics

    if not 0 <= port < 65536:
        raise BadInput(f"--port {port}: a port is 1 to 65535 (0 picks a free one)")
    if log_file:
        output_file(log_file, "--log-file")
    if port and port_taken(port):
        raise BadInput(f"--port {port}: something already listens on 127.0.0.1:{port}")
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(signum, signal.default_int_handler)
    try:
        with EmbeddedBroker(port=port, log_path=log_file) as broker:
            ensure_topics(settings.replace(bootstrap=broker.bootstrap))
            announce(broker.bootstrap)
            return broker.wait()
    except BrokerError as exc:
        raise RunFailed(str(exc)) from exc
