"""``policysim bench``: the benchmark group; each benchmark module adds its own subcommand."""

from __future__ import annotations

import argparse
import importlib

BENCH_MODULES: tuple[str, ...] = (
    "policysim.bench.pipeline",
    "policysim.bench.engine",
    "policysim.bench.lookups",
    "policysim.bench.produce",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``bench`` and, under it, every benchmark in :data:`BENCH_MODULES`."""
    parser = sub.add_parser(
        "bench",
        help="benchmarks that print figures (lookups, engine, produce, pipeline)",
        description="Benchmarks. Each prints a table, or JSON with --json; none asserts timings.",
    )
    bench_sub = parser.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)
    for name in BENCH_MODULES:
        importlib.import_module(name).register(bench_sub)
