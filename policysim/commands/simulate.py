"""``policysim simulate``: a scenario's synthetic traffic to a file or a Kafka topic."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from policysim.app.sending import SEND_ERRORS, event_count, kafka_target, open_sink_for, run_paced
from policysim.base.settings import Settings
from policysim.commands.options import add_sink_arguments
from policysim.simulators.generator import generate_events
from policysim.simulators.pacing import at_rate
from policysim.simulators.population import Population, build_population
from policysim.simulators.registrations import registration_lines, write_registry
from policysim.simulators.scenario import ScenarioError, load_scenario
from policysim.streams.kafka_sink import TargetError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    parser = sub.add_parser(
        "simulate",
        help="generate a scenario's traffic (with ground truth) to a file or Kafka",
        description=(
            "Generate connection events of a scenario, in event-time order, deterministic for a "
            "scenario and seed. --events N sends N as fast as possible (or at --rate); "
            "--rate R --duration D sends R*D events paced at R per second, open loop."
        ),
    )
    parser.add_argument("--scenario", required=True, help="scenario file or bundled name")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--events", type=int, help="how many events")
    parser.add_argument("--rate", type=float, help="events per second (open-loop pacing)")
    parser.add_argument("--duration", type=float, help="seconds to send for (with --rate)")
    parser.add_argument("--registry-out", metavar="R.csv", help="write the registry (.csv/.jsonl)")
    parser.add_argument(
        "--registrations-out",
        metavar="FILE",
        help="write registration/revocation records in event-time order (JSON lines)",
    )
    add_sink_arguments(parser, default_batch="settings")
    parser.set_defaults(handler=run)


def _write_registry_files(
    population: Population, registry_out: str | None, registrations_out: str | None
) -> None:
    for path in filter(None, (registry_out, registrations_out)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if registry_out:
        registry = write_registry(population, registry_out)
        print(f"registry: {registry_out} ({registry.stats()['grants']} prefixes)")
    if registrations_out:
        lines = list(registration_lines(population))
        Path(registrations_out).write_bytes(b"".join(line + b"\n" for line in lines))
        print(f"registrations: {registrations_out} ({len(lines)} records)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Build the population, write the registry files, then stream the events."""
    try:
        count = event_count(args.events, args.rate, args.duration)
        scenario = load_scenario(args.scenario)
        population = build_population(scenario, args.seed, settings)
        sink = open_sink_for(
            settings,
            args.out,
            kafka_target(settings, args.bootstrap, args.topic, getattr(args, "to", None)),
            args.producer,
            args.batch,
            args.linger_ms,
        )
    except (ValueError, ScenarioError, TargetError) as exc:
        log.error("%s", exc)
        return 2
    log.info(
        "scenario %s seed %d: %d entities, %d subscribers (addresses: %s; VPN endpoints: %s)",
        scenario.scenario,
        args.seed,
        len(population.entities),
        len(population.sub_src),
        population.origins["subscriber_space"],
        population.origins["vpn_endpoints"],
    )
    try:
        _write_registry_files(population, args.registry_out, args.registrations_out)
    except (OSError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    try:
        result = run_paced(
            at_rate(generate_events(population, count), args.rate),
            sink,
            total=count,
            target_rate=args.rate,
            show_progress=not args.no_progress,
            description=f"simulate {scenario.scenario}",
        )
    except SEND_ERRORS as exc:
        log.error("simulate to %s failed: %s", args.out or args.bootstrap, exc)
        return 1
    print(
        f"simulated {result.events:,} events in {result.messages:,} messages "
        f"in {result.elapsed:.2f} s ({result.rate:,.0f} events/s) to {args.out or args.bootstrap}"
    )
    return 0
