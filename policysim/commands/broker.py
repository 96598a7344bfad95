"""``policysim broker``: run the embedded Kafka broker in the foreground."""

from __future__ import annotations

import argparse
import signal

from policysim.base.settings import Settings
from policysim.streams.broker import EmbeddedBroker
from policysim.streams.topics import ensure_topics


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``broker`` subcommand."""
    parser = sub.add_parser(
        "broker",
        help="run the embedded Kafka broker (Tansu, in memory) on 127.0.0.1",
        description="Start the embedded broker, create the topics, print the bootstrap "
        "address and run until Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--log-file", help="broker log file (default: in the temp folder)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start, announce, wait; SIGTERM is turned into the same clean stop as Ctrl-C."""
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(signum, signal.default_int_handler)
    with EmbeddedBroker(port=args.port, log_path=args.log_file) as broker:
        ensure_topics(settings.replace(bootstrap=broker.bootstrap))
        print(broker.bootstrap, flush=True)
        try:
            code = broker.wait()
        except KeyboardInterrupt:
            return 0
    return code
