"""The population's registry: registration and revocation records in event-time order.

The records are built here; storing, checking and writing them is the
decision core's job (:class:`policysim.policies.registry.Registry`), so the files a
simulation writes are exactly what ``Registry.load`` and the worker read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from policysim.policies.registry import Registry, RegistryRecord
from policysim.policies.registry_files import encode_record, write_csv, write_jsonl
from policysim.simulators.people import Population
from policysim.simulators.population import local_time

REGISTRY_SUFFIXES = (".csv", ".jsonl")


def registry_records(population: Population) -> list[RegistryRecord]:
    """Every registration and revocation, ordered by when it happens (then by entity id).

    This is the order a ``registrations`` topic carries them in; entities
    that never register have no record.
    """
    timed: list[tuple[float, int, str, RegistryRecord]] = []
    scenario = population.scenario
    for entity in population.entities:
        if entity.registered_at is None:
            continue
        cap = scenario.categories[entity.category].max_addresses
        if entity.prefixes:
            grant = RegistryRecord(
                entity_id=entity.entity_id,
                name=entity.name,
                category=entity.category,
                prefixes=[_capped(p, cap) for p in entity.prefixes],
                registered_at=local_time(scenario, entity.registered_at),
            )
            timed.append((entity.registered_at, 0, entity.entity_id, grant))
        for prefix, begin, until in entity.timed:
            update = RegistryRecord(
                entity_id=entity.entity_id,
                name=entity.name,
                category=entity.category,
                prefixes=[prefix],
                registered_at=local_time(scenario, begin),
                expires_at=local_time(scenario, until) if math.isfinite(until) else None,
            )
            timed.append((begin, 0, entity.entity_id, update))
        if entity.revoked_at is not None and math.isfinite(entity.revoked_at):
            revoke = RegistryRecord(
                entity_id=entity.entity_id, revoked_at=local_time(scenario, entity.revoked_at)
            )
            timed.append((entity.revoked_at, 1, entity.entity_id, revoke))
    timed.sort(key=lambda item: item[:3])
    return [record for *_, record in timed]


def _capped(prefix: str, cap: int | None) -> str:
    """An IPv4 block narrowed to its first ``cap`` addresses (rounded down to a power of 2):
    what an entity registers when only so many addresses are free."""
    if cap is None or ":" in prefix:
        return prefix
    network, length = prefix.split("/")
    return f"{network}/{max(int(length), 32 - int(math.log2(cap)))}"


def build_registry(population: Population) -> Registry:
    """The registry with every record applied (membership is answered as of event time)."""
    registry = Registry()
    for record in registry_records(population):
        registry.apply(record)
    return registry


def write_registry(population: Population, path: str | Path) -> Registry:
    """Write the registry as ``.csv`` or ``.jsonl`` (by the file's suffix)."""
    suffix = Path(path).suffix.lower()
    if suffix not in REGISTRY_SUFFIXES:
        raise ValueError(f"{path}: a registry file ends in .csv or .jsonl")
    registry = build_registry(population)
    if suffix == ".csv":
        write_csv(registry, path)
    else:
        write_jsonl(registry, path)
    return registry


def registration_lines(population: Population) -> Iterator[bytes]:
    """The records as JSON lines (the ``registrations`` topic's message values)."""
    return map(encode_record, registry_records(population))
