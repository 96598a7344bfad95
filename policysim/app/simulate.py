"""``policysim simulate``: a scenario's population, its registry files and its traffic.

Everything the flags name is checked before any work starts (the scenario,
every output's folder, the broker), so a typo costs a sentence, not a
half-written set of files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from policysim.app.errors import BadInput
from policysim.app.outputs import output_file
from policysim.app.sending import (
    SinkChoice,
    destination,
    event_count,
    open_chosen_sink,
    send_events,
)
from policysim.base.settings import Settings
from policysim.simulators.pacing import PumpResult, at_rate
from policysim.simulators.scenario import Scenario, ScenarioError, load_scenario


@dataclass(frozen=True)
class SimulateRequest:
    """What ``policysim simulate`` was asked for."""

    scenario: str
    seed: int
    count: int | None
    rate: float | None
    duration_seconds: float | None
    registry_out: str | None
    registrations_out: str | None
    sink: SinkChoice


@dataclass
class SimulateResult:
    """What a simulation did: the population, the files written and the events sent."""

    scenario: str
    seed: int
    population: str  # one line: entities, subscribers, where the addresses came from
    sent: PumpResult
    destination: str
    files: list[str] = field(default_factory=list)  # "registry: PATH (N prefixes)", ...


def load_checked_scenario(name: str) -> Scenario:
    """The scenario, or BadInput with the file's problems."""
    try:
        return load_scenario(name)
    except ScenarioError as exc:
        raise BadInput(str(exc)) from exc
    except OSError as exc:
        raise BadInput(f"{name}: cannot read the scenario: {exc.strerror or exc}") from exc


def checked_seed(seed: int) -> int:
    """A seed numpy accepts (0 or more), or BadInput."""
    if seed < 0:
        raise BadInput(f"--seed {seed}: a seed is 0 or more")
    return seed


def simulate(settings: Settings, request: SimulateRequest) -> SimulateResult:
    """Check the flags, build the population, write the registry files, send the events."""
    from policysim.simulators.generator import generate_events
    from policysim.simulators.population import build_population
    from policysim.simulators.registrations import registration_lines, write_registry

    count = event_count(request.count, request.rate, request.duration_seconds)
    seed = checked_seed(request.seed)
    if request.registry_out:
        output_file(request.registry_out, "--registry-out")
        if Path(request.registry_out).suffix.lower() not in (".csv", ".jsonl"):
            raise BadInput(f"--registry-out {request.registry_out}: a registry is .csv or .jsonl")
    if request.registrations_out:
        output_file(request.registrations_out, "--registrations-out")
    scenario = load_checked_scenario(request.scenario)
    sink = open_chosen_sink(settings, request.sink)
    try:
        population = build_population(scenario, seed, settings)
    except ScenarioError as exc:
        raise BadInput(str(exc)) from exc
    result = SimulateResult(
        scenario=scenario.scenario,
        seed=seed,
        population=(
            f"{len(population.entities):,} entities, {len(population.sub_src):,} subscribers "
            f"(addresses: {population.origins['subscriber_space']}; "
            f"VPN endpoints: {population.origins['vpn_endpoints']})"
        ),
        sent=PumpResult(),
        destination=destination(request.sink, settings),
    )
    try:
        if request.registry_out:
            registry = write_registry(population, request.registry_out)
            prefixes = registry.stats()["grants"]
            result.files.append(f"registry: {request.registry_out} ({prefixes:,} prefixes)")
        if request.registrations_out:
            lines = list(registration_lines(population))
            Path(request.registrations_out).write_bytes(b"".join(x + b"\n" for x in lines))
            n = len(lines)
            result.files.append(f"registrations: {request.registrations_out} ({n:,} records)")
    except OSError as exc:
        raise BadInput(f"cannot write {exc.filename}: {exc.strerror}") from exc
    result.sent = send_events(
        at_rate(generate_events(population, count), request.rate),
        sink,
        total=count,
        target_rate=request.rate,
        show_progress=request.sink.progress,
        description=f"simulate {scenario.scenario}",
    )
    return result
