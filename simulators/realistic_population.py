"""What the plain population leaves out: approval delays, remote staff, pooled addresses and
registrations that name an address (or follow a subscriber).

Applied after the plain population is drawn, from its own random stream
``(seed, 3)``, and only for scenarios that use a realistic block, so older
scenarios keep their exact population.

A registration names the address its holder had when it **applied**; the
registry holds it from approval. For an entity whose staff sit in an address
pool, its registrant is its first member there (its other members there count
as remote staff): an entity registering by address registers that one address
for good, wherever the registrant goes next; one registering by subscriber
gets a registry update ``follow_delay_hours`` after each renumbering (the old
address's grant ends and the new one's begins then).
"""

from __future__ import annotations

import math

import numpy as np

from policysim.simulators.addressing import Addressing, build_addressing, static_addressing
from policysim.simulators.people import Entity, Network, Population, household_address
from policysim.simulators.scenario import Delay, ScenarioError

HOUR = 3600.0
_Z95 = 1.6448536269514722  # the standard normal's 95th percentile


def apply(population: Population, free: dict[int, list[Network]], rng: np.random.Generator) -> None:
    """Give ``population`` approval delays, remote staff, address pools and registrants."""
    scenario = population.scenario
    for entity in population.entities:
        _approve(entity, scenario.categories[entity.category].approval, rng)
    _remote_staff(population, free, rng)
    members = _pool_members(population)
    pooled = np.zeros(len(population.sub_src), dtype=bool)
    for subs in members.values():
        pooled[subs] = True
    taken = {population.sub_src[s] for s in np.flatnonzero(~pooled).tolist()}
    space = [n for n in free[4] if n.version == 4]
    try:
        population.addressing = (
            build_addressing(
                population.sub_src,
                members,
                scenario.address_pools,
                scenario.window,
                space,
                taken,
                rng,
            )
            if members
            else static_addressing(population.sub_src, scenario.window[0])
        )
    except ValueError as exc:
        raise ScenarioError(f"{scenario.path}: {exc}") from None
    _registrants(population, population.addressing, rng)


def _approve(entity: Entity, delay: Delay, rng: np.random.Generator) -> None:
    """Move the registration to its approval: a lognormal delay after applying."""
    z = float(rng.standard_normal())
    if entity.registered_at is None or delay.median_hours <= 0:
        return
    sigma = math.log(delay.p95_hours / delay.median_hours) / _Z95
    hours = delay.median_hours * math.exp(sigma * z)
    entity.applied_at = entity.registered_at
    entity.registered_at = float(math.floor(entity.registered_at + hours * HOUR))


def _remote_staff(
    population: Population, free: dict[int, list[Network]], rng: np.random.Generator
) -> None:
    """``remote_share`` of each group's members work from a home or mobile address."""
    remote = np.zeros(len(population.sub_src), dtype=bool)
    sizes = np.array([n.num_addresses for n in free[4]], dtype=float)
    cdf4 = np.cumsum(sizes) / sizes.sum()
    seen = set(population.sub_src)
    for g, group in enumerate(population.scenario.groups.values()):
        members = population.group_members[g]
        chosen = members[rng.random(len(members)) < group.remote_share]
        remote[chosen] = True
        if group.remote_addressing == "static":
            for s in chosen.tolist():
                address = household_address(free, cdf4, bool(population.sub_v6[s]), rng, seen)
                seen.add(address)
                population.sub_src[s] = address
    population.sub_remote = remote
    population.sub_v6 = np.array([":" in a for a in population.sub_src], dtype=bool)


def _pool_members(population: Population) -> dict[str, np.ndarray]:
    """IPv4 subscribers by the pool they sit in (remote staff: their group's remote pool)."""
    assert population.sub_remote is not None
    groups = list(population.scenario.groups.values())
    by_pool: dict[str, list[int]] = {}
    for s, (g, remote, v6) in enumerate(
        zip(
            population.sub_group.tolist(),
            population.sub_remote.tolist(),
            population.sub_v6.tolist(),
            strict=True,
        )
    ):
        pool = groups[g].remote_addressing if remote else groups[g].addressing
        if pool != "static" and not v6:
            by_pool.setdefault(pool, []).append(s)
    return {name: np.array(subs, dtype=np.int64) for name, subs in by_pool.items()}


def _registrants(population: Population, addressing: Addressing, rng: np.random.Generator) -> None:
    """Name the address each pooled registrant held when applying; build its grants."""
    assert population.sub_remote is not None
    entities = population.entities
    named = np.full(len(population.sub_src), -1, dtype=np.int64)
    seen: set[int] = set()
    candidates = (addressing.pool_of >= 0) & ~population.sub_remote
    candidates &= population.sub_entity < len(entities)
    for s in np.flatnonzero(candidates).tolist():
        e = int(population.sub_entity[s])
        entity = entities[e]
        applied = entity.registered_at if entity.applied_at is None else entity.applied_at
        if applied is None:
            continue
        if e in seen:
            population.sub_remote[s] = True  # another member holds the registration
            continue
        seen.add(e)
        named[s] = addressing.held(s, applied)
        category = population.scenario.categories[entity.category]
        v6_prefixes = [p for p in entity.prefixes if ":" in p]
        pool = addressing.pools[int(addressing.pool_of[s])]
        if rng.random() < category.by_subscriber and pool.mode == "dynamic":
            delay = round(category.follow_delay_hours * HOUR)
            entity.timed = _following(addressing, s, applied, entity, delay)
            entity.prefixes = v6_prefixes
        else:
            entity.prefixes = [f"{addressing.texts[named[s]]}/32", *v6_prefixes]
    population.sub_named = named


def _following(
    addressing: Addressing, s: int, applied: float, entity: Entity, delay: int
) -> list[tuple[str, float, float]]:
    """The grants of a registration that follows subscriber ``s``: each lease's address from
    ``delay`` after the lease began (approval for the first) to ``delay`` after it ended."""
    assert entity.registered_at is not None
    pool = addressing.pools[int(addressing.pool_of[s])]
    row = int(addressing.row[s])
    start = addressing.start
    first = int(pool.epoch(np.array([row]), np.array([applied]), start)[0])
    revoked = math.inf if entity.revoked_at is None else entity.revoked_at
    grants = []
    for lease in range(first, pool.table.shape[1]):
        begin = entity.registered_at
        if lease > first:
            begin = max(begin, pool.lease_start(row, lease, start) + delay)
        until = min(pool.lease_end(row, lease, start) + delay, revoked)
        if begin >= revoked:
            break
        if begin < until:
            grants.append((f"{addressing.texts[int(pool.table[row, lease])]}/32", begin, until))
    return grants
