"""``policysim broker``: run the embedded Kafka broker in the foreground."""

from __future__ import annotations

import argparse

from policysim.base.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``broker`` subcommand."""
    parser = sub.add_parser(
        "broker",
        help="run the embedded Kafka broker (Tansu, in memory) on 127.0.0.1",
        description="Start the embedded broker, create the topics, print the bootstrap "
        "address HOST:PORT (for --bootstrap-server) and run until Ctrl-C or SIGTERM.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: 0, a free one)"
    )
    parser.add_argument(
        "--log-file",
        metavar="FILE",
        help="the broker's own log (default: policysim-broker-PORT.log in the temp folder)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start, announce, wait; SIGTERM is turned into the same clean stop as Ctrl-C."""
    from policysim.app.broker import serve_broker
    from policysim.app.errors import AppError

    def announce(bootstrap: str) -> None:
        print(bootstrap, flush=True)

    try:
        return serve_broker(settings, args.port, args.log_file, announce)
    except AppError as exc:
        return exc.report("broker")
    except KeyboardInterrupt:
        return 0
