"""``policysim broker``: run a Kafka broker (embedded Tansu or Apache Kafka) in the foreground."""

from __future__ import annotations

import argparse

from policysim.base.settings import Settings
from policysim.commands import options


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``broker`` subcommand."""
    parser = sub.add_parser(
        "broker",
        help="run a Kafka broker on 127.0.0.1: embedded Tansu, or Apache Kafka (--engine apache)",
        description="Start a broker, create the topics, print the bootstrap address (for"
        " --bootstrap-server) and run until Ctrl-C or SIGTERM. With --engine apache it is"
        " Apache Kafka (KRaft) from the jars `make kafka` fetches, with a data folder of its own"
        " that is removed on stop; --nodes starts a cluster.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (of node 1) (default: 0, a free one)"
    )
    options.add_engine(parser)
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        metavar="N",
        help="Apache Kafka nodes, each broker and controller, on free ports (default: 1)",
    )
    parser.add_argument(
        "--log-file",
        metavar="FILE",
        help="the broker's own log; node N of a cluster adds -N to its name (default: in the"
        " temp folder)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start, announce, wait; SIGTERM is turned into the same clean stop as Ctrl-C."""
    from policysim.app.broker import serve_broker
    from policysim.app.errors import AppError

    def announce(bootstrap: str) -> None:
        print(bootstrap, flush=True)

    try:
        return serve_broker(settings, args.port, args.log_file, announce, args.nodes)
    except AppError as exc:
        return exc.report("broker")
    except KeyboardInterrupt:
        return 0
