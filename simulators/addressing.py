"""Addresses that move and addresses that are shared: dynamic leases and carrier-grade NAT.

A subscriber of a group with ``addressing: static`` (the default) keeps the one
address the population drew for it. A subscriber in an address pool does not:

* ``dynamic``: its lease is renumbered every ``lease_hours`` (each subscriber
  with its own phase); ``leave_prefix`` of the renumberings pick an address
  anywhere in the pool, the others stay in the same routed /24. Whoever draws
  an address next holds it next, registered or not.
* ``cgnat``: ``per_address`` subscribers sit behind each public address of the
  pool, for the whole window.

Addresses are numbered: ids below the subscriber count are the subscribers' own
(static) addresses, the pools' addresses follow. The address a subscriber holds
in each lease is drawn once, up front (a table of subscribers x leases), from
its own random stream, so the events of a block are looked up with numpy and
the population stays a fixed size whatever the number of events. Only IPv4
subscribers join pools (IPv6 prefixes are not scarce; they keep theirs).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field

import numpy as np

from policysim.simulators.scenario import AddressPool

ROUTED_PREFIX = 256  # addresses of the routed prefix a renumbering may stay in (/24)
HOUR = 3600


@dataclass
class Pool:
    """One pool's addresses and its members' holdings (ids are global address ids)."""

    name: str
    mode: str
    members: np.ndarray  # subscriber indexes, in the order of table rows
    first_id: int  # global id of the pool's first address
    size: int
    lease_seconds: int = 0
    phase: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    table: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.int64))

    def epoch(self, rows: np.ndarray, ts: np.ndarray, start: float) -> np.ndarray:
        """The lease number of each row at each time (0 up to the first renumbering in the
        window, the last one beyond it)."""
        if self.mode != "dynamic":
            return np.zeros(len(rows), dtype=np.int64)
        raw = np.floor((ts - start + self.phase[rows]) / self.lease_seconds).astype(np.int64)
        return np.clip(raw, 0, self.table.shape[1] - 1)

    def lease_start(self, row: int, epoch: int, start: float) -> float:
        """When lease ``epoch`` of ``row`` begins (lease 0: always held before)."""
        if epoch == 0:
            return -math.inf
        return start + epoch * self.lease_seconds - int(self.phase[row])

    def lease_end(self, row: int, epoch: int, start: float) -> float:
        if epoch >= self.table.shape[1] - 1:
            return math.inf
        return self.lease_start(row, epoch + 1, start)


@dataclass
class Addressing:
    """Every address a subscriber may hold, and who holds which when."""

    texts: list[str]  # by address id
    pool_of: np.ndarray  # per subscriber: pool index, -1 static
    row: np.ndarray  # per subscriber: its row in its pool
    pools: list[Pool]
    shared_by: np.ndarray  # per address id: subscribers behind it (CGNAT), else 1
    start: float

    def at(self, subs: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """The address id each subscriber holds at each time."""
        ids = subs.astype(np.int64)
        pool_of = self.pool_of[subs]
        for index, pool in enumerate(self.pools):
            where = np.flatnonzero(pool_of == index)
            if len(where):
                rows = self.row[subs[where]]
                ids[where] = pool.table[rows, pool.epoch(rows, ts[where], self.start)]
        return ids

    def held(self, subscriber: int, ts: float) -> int:
        """The address id one subscriber holds at one time."""
        return int(self.at(np.array([subscriber]), np.array([ts], dtype=float))[0])


def static_addressing(sub_src: list[str], start: float) -> Addressing:
    """Everyone keeps its own address (the plain model)."""
    n = len(sub_src)
    return Addressing(
        texts=sub_src,
        pool_of=np.full(n, -1, dtype=np.int64),
        row=np.zeros(n, dtype=np.int64),
        pools=[],
        shared_by=np.ones(n, dtype=np.int64),
        start=start,
    )


def build_addressing(
    sub_src: list[str],
    members: dict[str, np.ndarray],
    specs: dict[str, AddressPool],
    window: tuple[float, float],
    space: list[ipaddress.IPv4Network],
    taken: set[str],
    rng: np.random.Generator,
) -> Addressing:
    """Pools for the ``members`` (subscriber indexes by pool name) carved from ``space``,
    skipping /24s that hold an address in ``taken``."""
    start, end = window
    addressing = static_addressing(sub_src, start)
    texts = list(sub_src)
    shared = [1] * len(sub_src)
    blocks = _Blocks(space, taken, rng)
    for name, spec in specs.items():
        subs = members.get(name, np.zeros(0, dtype=np.int64))
        m = len(subs)
        if not m:
            continue
        if spec.mode == "cgnat":
            size = -(-m // spec.per_address)
        else:
            size = max(1, math.ceil(m * (1 + spec.spare)))
        size = -(-size // ROUTED_PREFIX) * ROUTED_PREFIX
        first = len(texts)
        texts.extend(blocks.take(size // ROUTED_PREFIX))
        pool = Pool(name, spec.mode, subs, first, size)
        if spec.mode == "cgnat":
            slot = rng.permutation(m) % -(-m // spec.per_address)
            pool.table = (first + slot).reshape(m, 1)
            counts = np.bincount(slot, minlength=size).tolist()
            shared.extend(counts)
        else:
            pool.lease_seconds = max(1, round(spec.lease_hours * HOUR))
            pool.phase = rng.integers(0, pool.lease_seconds, m)
            leases = math.ceil((end - start) / pool.lease_seconds) + 2
            pool.table = _renumberings(m, size, leases, spec.leave_prefix, rng) + np.int32(first)
            shared.extend([1] * size)
        addressing.pool_of[subs] = len(addressing.pools)
        addressing.row[subs] = np.arange(m)
        addressing.pools.append(pool)
    addressing.texts = texts
    addressing.shared_by = np.array(shared, dtype=np.int64)
    return addressing


def _renumberings(
    members: int, size: int, leases: int, leave: float, rng: np.random.Generator
) -> np.ndarray:
    """Pool offsets held by each member in each lease: a fresh draw at every renumbering,
    anywhere in the pool for ``leave`` of them, in the same /24 for the rest."""
    table = np.empty((members, leases), dtype=np.int32)
    table[:, 0] = rng.integers(0, size, members)
    for lease in range(1, leases):
        previous = table[:, lease - 1]
        anywhere = rng.integers(0, size, members)
        nearby = previous // ROUTED_PREFIX * ROUTED_PREFIX + rng.integers(0, ROUTED_PREFIX, members)
        table[:, lease] = np.where(rng.random(members) < leave, anywhere, nearby)
    return table


class _Blocks:
    """Random /24s of the free IPv4 space, never the same one twice."""

    def __init__(
        self, space: list[ipaddress.IPv4Network], taken: set[str], rng: np.random.Generator
    ) -> None:
        self.space = [n for n in space if n.prefixlen <= 24]
        sizes = np.array([n.num_addresses for n in self.space], dtype=float)
        self.cdf = np.cumsum(sizes) / sizes.sum() if len(sizes) else sizes
        self.taken = {str(ipaddress.ip_network(f"{a}/24", strict=False)) for a in taken}
        self.rng = rng

    def take(self, count: int) -> list[str]:
        if not self.space:
            raise ValueError("address pools need IPv4 subscriber CIDRs of /24 or larger")
        addresses: list[str] = []
        for _ in range(count):
            for _attempt in range(1000):
                u = self.rng.random()
                net = self.space[
                    min(int(np.searchsorted(self.cdf, u, side="right")), len(self.space) - 1)
                ]
                offset = int(self.rng.integers(0, net.num_addresses // ROUTED_PREFIX))
                block = ipaddress.IPv4Network(
                    (int(net.network_address) + offset * ROUTED_PREFIX, 24)
                )
                if str(block) not in self.taken:
                    break
            else:
                raise ValueError("the IPv4 subscriber space is too small for the address pools")
            self.taken.add(str(block))
            base = int(block.network_address)
            addresses.extend(str(ipaddress.IPv4Address(base + i)) for i in range(ROUTED_PREFIX))
        return addresses
