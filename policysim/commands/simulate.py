"""``policysim simulate SCENARIO``: a scenario's synthetic traffic to a file or a Kafka topic."""

from __future__ import annotations

import argparse

from policysim.base.settings import Settings
from policysim.commands.options import (
    add_count,
    add_pacing,
    add_scenario,
    add_seed,
    add_sink_arguments,
    fail,
    scenario_of,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    parser = sub.add_parser(
        "simulate",
        help="generate a scenario's traffic (with ground truth) to a file or Kafka",
        description=(
            "Generate connection events of SCENARIO, in event-time order, deterministic for a "
            "scenario and seed. --count N sends N events as fast as possible (or at --rate); "
            "--rate R --duration-seconds S sends R*S events paced at R per second, open loop. "
            "Events go to --out FILE or to --bootstrap-server HOST:PORT (--topic)."
        ),
        epilog="Older spellings still accepted: --scenario S, --events N, --duration S, "
        "--to kafka://HOST:PORT/TOPIC, --bootstrap, --linger.",
    )
    add_scenario(parser)
    add_seed(parser)
    add_count(parser, "events to send", "default: none, or give --rate and --duration-seconds")
    add_pacing(parser)
    parser.add_argument(
        "--registry-out",
        metavar="FILE",
        help="also write the scenario's registry, .csv or .jsonl (default: not written)",
    )
    parser.add_argument(
        "--registrations-out",
        metavar="FILE",
        help="also write the registration and revocation records in event-time order, JSON "
        "lines (default: not written)",
    )
    add_sink_arguments(parser, default_batch="settings")
    parser.set_defaults(handler=run, parser=parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Simulate, then print the population, the files written and what was sent."""
    from policysim.app.errors import AppError
    from policysim.app.sending import SinkChoice, acknowledgement, lost_events
    from policysim.app.simulate import SimulateRequest, simulate

    request = SimulateRequest(
        scenario=scenario_of(args.parser, args),
        seed=1 if args.seed is None else args.seed,
        count=args.count,
        rate=args.rate,
        duration_seconds=args.duration_seconds,
        registry_out=args.registry_out,
        registrations_out=args.registrations_out,
        sink=SinkChoice.from_flags(args),
    )
    try:
        result = simulate(settings, request)
    except AppError as exc:
        return exc.report("simulate")
    sent = result.sent
    print(f"scenario {result.scenario} seed {result.seed}: {result.population}")
    for line in result.files:
        print(line)
    acked = (
        f"; {acknowledgement(sent.events, sent.acknowledged, sent.lost)}"
        if request.sink.to_broker
        else ""
    )
    print(
        f"simulated {sent.events:,} events in {sent.messages:,} messages in {sent.elapsed:.2f} s "
        f"({sent.rate:,.0f} events/s) to {result.destination}{acked}"
    )
    if sent.lost:
        return fail("simulate", lost_events(sent.events, sent.lost, sent.first_error), 1)
    return 0
