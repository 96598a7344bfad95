"""The synthetic population of a scenario: entities with address blocks and registration
times, subscribers with source addresses and groups, and the destination pools.

Everything is drawn from one :class:`numpy.random.Generator` seeded by
``(seed, 1)``, in a fixed order, so a scenario and a seed always give the
same population (the events use a separate stream, ``(seed, 2)``, so asking
for more events does not change who the subscribers are).

Entity blocks are carved, aligned, from a seeded shuffle of the subscriber
CIDRs; the CIDRs used for entities are then kept out of the household pool,
so an unaffiliated subscriber can never sit inside a registered block by chance.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from datetime import datetime

import numpy as np

from policysim.base.settings import Settings
from policysim.simulators import datafiles, realistic_population
from policysim.simulators.people import Entity, Network, Population, host, household_address
from policysim.simulators.scenario import Category, Scenario, ScenarioError

log = logging.getLogger(__name__)

DAY = 86_400.0


def build_population(scenario: Scenario, seed: int, settings: Settings) -> Population:
    """Draw the population of ``scenario`` for ``seed``."""
    rng = np.random.default_rng([seed, 1])
    space, space_origin = _subscriber_space(scenario, settings)
    endpoints, endpoint_origin = _endpoints(scenario, settings)
    networks = {4: [n for n in space if n.version == 4], 6: [n for n in space if n.version == 6]}
    for version in (4, 6):
        order = rng.permutation(len(networks[version]))
        networks[version] = [networks[version][i] for i in order]
    entities, used = _entities(scenario, rng, networks)
    free = {v: networks[v][used[v] :] for v in (4, 6)}
    if not free[4]:
        raise ScenarioError(f"{scenario.path}: the entities use up the whole IPv4 subscriber space")
    subs = _subscribers(scenario, rng, entities, free)
    destinations = scenario.destinations
    assert destinations is not None  # checked by load_scenario
    population = Population(
        scenario=scenario,
        seed=seed,
        entities=entities,
        group_names=list(scenario.groups),
        sub_src=subs[0],
        sub_group=subs[1],
        sub_entity=subs[2],
        sub_v6=subs[3],
        group_members=[np.flatnonzero(subs[1] == g) for g in range(len(scenario.groups))],
        endpoints=by_family(endpoints),
        content=by_family(sample_hosts(rng, destinations.content, 2048)),
        dns=by_family(destinations.dns),
        origins={"subscriber_space": space_origin, "vpn_endpoints": endpoint_origin},
    )
    if scenario.realistic:
        realistic_population.apply(population, free, np.random.default_rng([seed, 3]))
    return population


def _subscriber_space(scenario: Scenario, settings: Settings) -> tuple[list[Network], str]:
    """The subscribers' address space (the loader has already checked its form and CIDRs)."""
    if scenario.subscriber_space == "pk":
        cidrs, origin = datafiles.subscriber_cidrs(settings)
    else:
        cidrs, origin = scenario.subscriber_space, "scenario"
    return [ipaddress.ip_network(c, strict=False) for c in cidrs], origin


def _endpoints(scenario: Scenario, settings: Settings) -> tuple[list[str], str]:
    """The VPN servers' addresses (the loader has already checked its form and addresses)."""
    if scenario.vpn_endpoints == "providers":
        return datafiles.vpn_endpoints(settings)
    return [str(ipaddress.ip_address(a)) for a in scenario.vpn_endpoints], "scenario"


def by_family(addresses: list[str]) -> tuple[list[str], list[str]]:
    v4 = [a for a in addresses if ":" not in a]
    v6 = [a for a in addresses if ":" in a]
    return v4, v6


def sample_hosts(rng: np.random.Generator, cidrs: list[str], count: int) -> list[str]:
    """``count`` host addresses spread over ``cidrs`` (deterministic for the generator)."""
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    picks = rng.integers(0, len(networks), count)
    return [host(networks[i], rng) for i in picks.tolist()]


def _registration(
    scenario: Scenario, category: Category, rng: np.random.Generator
) -> tuple[float | None, float | None]:
    """Draw one entity's registration and revocation times from its category's curve."""
    adoption = category.adoption
    deadline = scenario.deadline_ts
    u, v, w, x = rng.random(4).tolist()
    if u < adoption.before_deadline:
        mu = deadline - adoption.rush_days * DAY
        scale = max(adoption.spread_days, 0.01) * DAY
        lo, hi = (_logistic_cdf(t, mu, scale) for t in (scenario.opens_ts, deadline))
        p = min(max(lo + v * (hi - lo), 1e-12), 1 - 1e-12)
        registered = min(mu + scale * math.log(p / (1 - p)), deadline - 1)
    elif u < adoption.before_deadline + _late_share(scenario, category):
        registered = deadline + (-math.log(1 - v)) * adoption.late_days * DAY
    else:
        return None, None
    registered = float(math.floor(registered))
    start, end = scenario.window
    revoked = None
    if w < adoption.revoked and registered < end:
        begin = max(registered, start)
        revoked = float(math.floor(begin + x * (end - begin))) + 1
    return registered, revoked


def _late_share(scenario: Scenario, category: Category) -> float:
    """The late share, raised by enforcement's ``late_registration_boost`` (to at most what
    registering before the deadline leaves)."""
    adoption = category.adoption
    if scenario.enforcement is None:
        return adoption.late
    boosted = adoption.late * scenario.enforcement.late_registration_boost
    return min(boosted, 1.0 - adoption.before_deadline)


def _logistic_cdf(t: float, mu: float, scale: float) -> float:
    z = (t - mu) / scale
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


class _Carver:
    """Aligned blocks carved in order from a list of networks of one family."""

    def __init__(self, networks: list[Network]) -> None:
        self.networks = networks
        self.index = 0
        self.cursor = int(networks[0].network_address) if networks else 0
        self.taken = False

    def take(self, prefixlen: int) -> str:
        while self.index < len(self.networks):
            net = self.networks[self.index]
            size = 1 << (net.max_prefixlen - prefixlen)
            start = -(-self.cursor // size) * size
            if prefixlen >= net.prefixlen and start + size <= int(net.broadcast_address) + 1:
                self.cursor = start + size
                self.taken = True
                return f"{net.network_address.__class__(start)}/{prefixlen}"
            self.index += 1
            if self.index < len(self.networks):
                self.cursor = int(self.networks[self.index].network_address)
        raise ScenarioError("the subscriber space is too small for the entities' blocks")

    @property
    def used(self) -> int:
        """How many networks (from the front) the entities touched."""
        return self.index + 1 if self.taken else 0


def _entities(
    scenario: Scenario, rng: np.random.Generator, networks: dict[int, list[Network]]
) -> tuple[list[Entity], dict[int, int]]:
    requests: list[tuple[int, int, int]] = []  # (version, prefixlen, entity index)
    entities: list[Entity] = []
    for category_name, category in scenario.categories.items():
        for number in range(category.count):
            index = len(entities)
            registered, revoked = _registration(scenario, category, rng)
            v4 = category.v4_prefix[int(rng.integers(0, len(category.v4_prefix)))]
            requests.append((4, v4, index))
            if rng.random() < category.ipv6_share and category.v6_prefix and networks[6]:
                v6 = category.v6_prefix[int(rng.integers(0, len(category.v6_prefix)))]
                requests.append((6, v6, index))
            label = category_name.replace("_", " ").title()
            entities.append(
                Entity(
                    entity_id=f"{category_name}-{number:04d}",
                    name=f"Synthetic {label} {number}",
                    category=category_name,
                    prefixes=[],
                    registered_at=registered,
                    revoked_at=revoked,
                    gateway_v4="",
                    gateway_v6="",
                )
            )
    carvers = {v: _Carver(networks[v]) for v in (4, 6)}
    for version, prefixlen, index in sorted(requests):
        entities[index].prefixes.append(carvers[version].take(prefixlen))
    _assign_gateways(scenario, entities)
    return entities, {v: carvers[v].used for v in (4, 6)}


def _assign_gateways(scenario: Scenario, entities: list[Entity]) -> None:
    assert scenario.destinations is not None
    nets = [ipaddress.ip_network(c, strict=False) for c in scenario.destinations.gateways]
    for version in (4, 6):
        family = [n for n in nets if n.version == version] or [
            n for n in nets if n.version != version
        ]
        for i, entity in enumerate(entities):
            net = family[i % len(family)]
            address = str(net.network_address + 1 + (i // len(family)) % (net.num_addresses - 2))
            if version == 4:
                entity.gateway_v4 = address
            else:
                entity.gateway_v6 = address


def _subscribers(
    scenario: Scenario,
    rng: np.random.Generator,
    entities: list[Entity],
    free: dict[int, list[Network]],
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    groups = list(scenario.groups.values())
    shares = np.array([g.subscribers for g in groups], dtype=float)
    counts = np.floor(shares / shares.sum() * scenario.subscribers).astype(int)
    src: list[str] = []
    group_of: list[int] = []
    entity_of: list[int] = []
    seen: set[str] = set()
    sizes4 = np.array([n.num_addresses for n in free[4]], dtype=float)
    cdf4 = np.cumsum(sizes4) / sizes4.sum()
    for g, (name, group) in enumerate(scenario.groups.items()):
        eligible = _eligible(entities, group.categories, group.registers)
        if group.categories and not eligible:
            log.warning("group %s: no entity matches; it has no members", name)
            continue
        weights = np.cumsum([_weight(entities[i]) for i in eligible], dtype=float)
        for _ in range(int(counts[g])):
            v6 = rng.random() < group.ipv6_share
            if eligible:
                pick = np.searchsorted(weights, rng.random() * weights[-1], side="right")
                entity = eligible[min(int(pick), len(eligible) - 1)]
                address = _entity_address(entities[entity], v6, rng)
            else:
                entity = len(entities)
                address = household_address(free, cdf4, v6, rng, seen)
            seen.add(address)
            src.append(address)
            group_of.append(g)
            entity_of.append(entity)
    v6_flags = np.array([":" in a for a in src], dtype=bool)
    return src, np.array(group_of, dtype=np.int32), np.array(entity_of, dtype=np.int32), v6_flags


def _eligible(entities: list[Entity], categories: list[str], registers: str) -> list[int]:
    if not categories:
        return []
    wanted = set(categories)
    return [
        i
        for i, e in enumerate(entities)
        if e.category in wanted
        and (registers == "any" or (registers == "eventually") == (e.registered_at is not None))
    ]


def _weight(entity: Entity) -> float:
    """Bigger blocks have more staff, sub-linearly (a /24 bank is not 256 freelancers)."""
    v4 = next(p for p in entity.prefixes if ":" not in p)
    return math.sqrt(1 << (32 - int(v4.split("/")[1])))


def _entity_address(entity: Entity, v6: bool, rng: np.random.Generator) -> str:
    family = [p for p in entity.prefixes if (":" in p) == v6] or entity.prefixes
    network = ipaddress.ip_network(family[int(rng.integers(0, len(family)))])
    return host(network, rng)


def local_time(scenario: Scenario, ts: float) -> str:
    """ISO 8601 text of ``ts`` in the scenario's zone (seconds), for registry files."""
    return datetime.fromtimestamp(ts, scenario.tz).isoformat(timespec="seconds")
