"""The population's records: entities, subscribers and the addresses drawn for them.

Kept apart from the builder (:mod:`policysim.simulators.population`) so the
realistic layer that completes a population can use them without importing
the builder that calls it.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field

import numpy as np

from policysim.simulators.addressing import Addressing
from policysim.simulators.scenario import Scenario

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Entity:
    """A registering organisation or freelancer: its blocks and its registration times."""

    entity_id: str
    name: str
    category: str
    prefixes: list[str]
    registered_at: float | None  # None: never registers; else when the registration holds
    revoked_at: float | None
    gateway_v4: str
    gateway_v6: str
    applied_at: float | None = None  # when it applied (before approval); None: = registered_at
    timed: list[tuple[str, float, float]] = field(default_factory=list)  # (prefix, from, until)


@dataclass
class Population:
    """Everything the event generator draws from (fixed for a scenario and seed)."""

    scenario: Scenario
    seed: int
    entities: list[Entity]
    group_names: list[str]
    sub_src: list[str]
    sub_group: np.ndarray  # int index into group_names
    sub_entity: np.ndarray  # index into entities; len(entities) = none
    sub_v6: np.ndarray  # bool
    group_members: list[np.ndarray]
    endpoints: tuple[list[str], list[str]]  # v4, v6
    content: tuple[list[str], list[str]]
    dns: tuple[list[str], list[str]]
    origins: dict[str, str] = field(default_factory=dict)
    addressing: Addressing | None = None  # None: everyone keeps its address (the plain model)
    sub_remote: np.ndarray | None = None  # bool: staff outside the entity's registered block
    sub_named: np.ndarray | None = None  # address id its entity's registration named, or -1

    @property
    def reg_at(self) -> np.ndarray:
        """Registration time per entity (+inf never), padded with one +inf for "no entity"."""
        return _padded([e.registered_at for e in self.entities])

    @property
    def rev_at(self) -> np.ndarray:
        return _padded([e.revoked_at for e in self.entities])

    @property
    def applied_at(self) -> np.ndarray:
        """Application time per entity (the registration time where approval is instant)."""
        return _padded(
            [e.registered_at if e.applied_at is None else e.applied_at for e in self.entities]
        )


def _padded(times: list[float | None]) -> np.ndarray:
    return np.array([math.inf if t is None else t for t in times] + [math.inf])


def host(network: Network, rng: np.random.Generator) -> str:
    offset = int.from_bytes(rng.bytes(16)) % network.num_addresses
    return str(network.network_address + offset)


def household_address(
    free: dict[int, list[Network]],
    cdf4: np.ndarray,
    v6: bool,
    rng: np.random.Generator,
    seen: set[str],
) -> str:
    while True:
        if v6 and free[6]:
            address = host(free[6][int(rng.integers(0, len(free[6])))], rng)
        else:
            index = min(int(np.searchsorted(cdf4, rng.random(), side="right")), len(cdf4) - 1)
            address = host(free[4][index], rng)
        if address not in seen:
            return address
