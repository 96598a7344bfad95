"""``policysim bench BENCHMARK``: lookups, engine, produce and pipeline figures.

The flags of every benchmark are defined here, so ``policysim --help`` never
imports a benchmark (numpy, the Kafka clients, the comparison libraries);
a benchmark's module is imported when it runs. ``bench lookups`` compares
against libraries that are not dependencies of policysim: the ``bench``
extra installs them, and without it the command says so in one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from policysim.base.settings import Settings
from policysim.commands.options import (
    add_alias,
    add_bootstrap_server,
    add_format,
    add_linger_ms,
)

# What the bench extra installs (pyproject: policysim[bench]).
BENCH_EXTRA = ("psutil", "pytricia", "netaddr")
NEEDS_EXTRA = "needs the bench extra: pip install 'policysim[bench]'"
PIPELINE_POLICY_SETS = (1, 3)  # policysim.bench.pipeline.POLICY_SETS


def _handler(benchmark: str) -> Callable[[argparse.Namespace, Settings], int]:
    """Import ``policysim.bench.BENCHMARK`` when it runs; one line if the extra is missing."""

    def handle(args: argparse.Namespace, settings: Settings) -> int:
        from policysim.app.errors import AppError

        try:
            module = importlib.import_module(f"policysim.bench.{benchmark}")
        except ModuleNotFoundError as exc:
            if exc.name not in BENCH_EXTRA:
                raise
            print(f"policysim bench: {NEEDS_EXTRA}", file=sys.stderr)
            return 2
        try:
            return int(module.run(args, settings) or 0)
        except AppError as exc:
            return exc.report(f"bench {benchmark}")

    return handle


def _add(
    bench_sub: argparse._SubParsersAction, name: str, **kwargs: str
) -> argparse.ArgumentParser:
    parser = bench_sub.add_parser(name, **kwargs)
    add_format(parser)
    add_alias(parser, "--json", "format", action="store_const", const="json")
    parser.set_defaults(handler=_handler(name))
    return parser


def _lookups(bench_sub: argparse._SubParsersAction) -> None:
    parser = _add(
        bench_sub,
        "lookups",
        help="IP set / registry lookups vs pytricia, netaddr, ipaddress+bisect, numpy",
        description="IP-set and registry lookups against the usual alternatives, measured in "
        "the same run, interleaved, so a busy machine slows every contender alike; each rate "
        f"is the median of --rounds rounds. The alternatives {NEEDS_EXTRA}.",
    )
    parser.add_argument(
        "--sizes",
        default="20000,200000",
        metavar="N,N",
        help="registry sizes in prefixes (default: 20000,200000)",
    )
    parser.add_argument("--seed", type=int, default=2024, help="workload seed (default: 2024)")
    parser.add_argument(
        "--queries", type=int, default=200_000, help="per-event lookups (default: 200000)"
    )
    parser.add_argument(
        "--batch", type=int, default=1_000_000, help="addresses per batch (default: 1000000)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per rate (default: 5)")


def _engine(bench_sub: argparse._SubParsersAction) -> None:
    parser = _add(
        bench_sub,
        "engine",
        help="policy evaluation throughput (batch and per event)",
        description="Time Engine.evaluate on seeded events: 3 rules, 2 sets, as of event time, "
        "at several batch sizes, next to the per-event path and an enforced + shadow pair.",
    )
    parser.add_argument("--count", type=int, default=200_000, help="events (default: 200000)")
    add_alias(parser, "--events", "count", type=int)
    parser.add_argument(
        "--prefixes", type=int, default=20_000, help="registry prefixes (default: 20000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (default: 3)")
    parser.add_argument("--seed", type=int, default=7, help="workload seed (default: 7)")


def _produce(bench_sub: argparse._SubParsersAction) -> None:
    parser = _add(
        bench_sub,
        "produce",
        help="events/s into Kafka per producer path (kafka-python, aiokafka, batch API)",
        description="Send the same pre-generated events through every producer path into "
        "fresh topics, with envelopes and with one event per message; each figure is the "
        "median of --repeat runs. A last row times simulate as a user runs it (generation "
        "included). Starts an embedded broker unless --bootstrap-server is given.",
    )
    add_bootstrap_server(parser)
    parser.add_argument(
        "--count", type=int, default=300_000, help="events per enveloped run (default: 300000)"
    )
    add_alias(parser, "--events", "count", type=int)
    parser.add_argument(
        "--single-count",
        type=int,
        default=30_000,
        help="events per one-event-per-message run (default: 30000)",
    )
    add_alias(parser, "--single-events", "single_count", type=int)
    parser.add_argument("--batch", type=int, default=100, help="events per envelope (default: 100)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per path (default: 3)")
    parser.add_argument(
        "--scenario", default="pta-deadline", help="scenario of the events (default: pta-deadline)"
    )


def _pipeline(bench_sub: argparse._SubParsersAction) -> None:
    parser = _add(
        bench_sub,
        "pipeline",
        help="open-loop load through a private broker and worker(s), with ceilings",
        description="Offer --rate events/s for --duration-seconds through a private broker "
        "(--engine) and --workers workers; report rates, end-to-end latency, lag, a per-stage "
        "split, and the ceilings of a raw aiokafka consumer, a do-nothing Faust agent and the "
        "worker draining the backlog.",
    )
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="events per second offered (default: 1000)"
    )
    parser.add_argument(
        "--duration-seconds",
        type=float,
        default=20.0,
        metavar="S",
        help="seconds of load (default: 20)",
    )
    add_alias(parser, "--duration", "duration_seconds", type=float)
    parser.add_argument(
        "--batch", type=int, default=1, help="events per message, envelope (default: 1)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="workers in the consumer group (default: 1)"
    )
    add_linger_ms(parser)
    parser.add_argument(
        "--engine",
        dest="engines",
        metavar="ENGINE[,ENGINE]",
        help="broker engine(s) started for the run: tansu, apache, or tansu,apache to run both "
        "one after the other and print them side by side (default: the broker_engine setting, "
        "tansu)",
    )
    parser.add_argument(
        "--policies",
        type=int,
        choices=PIPELINE_POLICY_SETS,
        default=1,
        help="how many example policies the workers run (default: 1)",
    )
    parser.add_argument(
        "--scenario", default="small-isp", help="scenario of the events (default: small-isp)"
    )
    parser.add_argument(
        "--drain-rounds",
        type=int,
        default=3,
        metavar="N",
        help="drains of the backlog by the no-op Faust agent and by the worker, in turn; each "
        "ceiling is the median of its rounds, 0 skips the ceilings (default: 3)",
    )


def _soak(bench_sub: argparse._SubParsersAction) -> None:
    parser = _add(
        bench_sub,
        "soak",
        help="a long run at a steady rate on each engine, sampled every window",
        description="Offer --rate-per-second events/s for --duration-seconds through a private "
        "broker of each --engine in turn and one worker; every --sample-seconds print the "
        "end-to-end p50/p99 of the verdicts that arrived, and the CPU and resident memory of the "
        "broker and the worker. The verdict compares the p99 of the last five windows with the "
        "first five, and the broker's memory at the end with its memory after five windows.",
    )
    parser.add_argument(
        "--engine",
        default="tansu,apache",
        metavar="ENGINE,ENGINE",
        help="broker engines, soaked one after the other (default: tansu,apache)",
    )
    parser.add_argument(
        "--rate-per-second",
        type=float,
        default=2500.0,
        help="events per second offered (default: 2500)",
    )
    parser.add_argument(
        "--duration-seconds",
        type=float,
        default=1800.0,
        help="length of each engine's run (default: 1800)",
    )
    parser.add_argument(
        "--sample-seconds", type=float, default=60.0, help="sample window (default: 60)"
    )
    parser.add_argument(
        "--batch", type=int, default=100, help="events per message, envelope (default: 100)"
    )
    parser.add_argument(
        "--policies",
        type=int,
        choices=PIPELINE_POLICY_SETS,
        default=3,
        help="example policies evaluated (default: 3)",
    )
    parser.add_argument(
        "--scenario", default="pta-deadline", help="scenario of the events (default: pta-deadline)"
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``bench`` and, under it, every benchmark."""
    parser = sub.add_parser(
        "bench",
        help="benchmarks that print figures (lookups, engine, produce, pipeline, soak)",
        description="Benchmarks. Each prints a table, or JSON with --format json; none asserts "
        "timings.",
    )
    bench_sub = parser.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)
    for add in (_pipeline, _soak, _engine, _lookups, _produce):
        add(bench_sub)
