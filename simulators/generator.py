"""The event stream of a scenario: lazily generated, ordered by event time, deterministic.

How many events fall in each (group, minute) cell of the window is drawn once
with one multinomial (weights: group size x activity x the group's diurnal
curve at that local hour); then the minutes are generated in order, a block
of them at a time, so memory holds one block of events whatever the total. Events come
out as the JSON bytes of :class:`policysim.policies.model.Event` (the exact bytes
``policysim.policies.model.encode`` would write), because every sink wants bytes and
building a validated struct per event would cost more than the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from policysim.simulators import classifier
from policysim.simulators.mixes import mix_cdf
from policysim.simulators.people import Population
from policysim.simulators.population import by_family, sample_hosts
from policysim.simulators.realistic_events import Block, Realism
from policysim.simulators.scenario import Scenario

SLICE_SECONDS = 60.0
BLOCK_EVENTS = 8192
_SPORTS = (32768, 61000)


@dataclass(frozen=True)
class _AppTable:
    """The scenario's apps as arrays indexed by app number, for vectorised draws."""

    names: list[str]
    variants: list[list[tuple[str, int]]]
    dst_kind: list[str]
    medians: np.ndarray  # (apps, 3): bytes_out, bytes_in, duration
    vpn: np.ndarray


def _app_table(scenario: Scenario) -> _AppTable:
    names = list(scenario.apps)
    apps = [scenario.apps[n] for n in names]
    return _AppTable(
        names=names,
        variants=[[(p, d) for p in a.proto for d in a.dport] for a in apps],
        dst_kind=[a.dst for a in apps],
        medians=np.array([[a.bytes_out, a.bytes_in, a.duration] for a in apps], dtype=float),
        vpn=np.array([a.vpn for a in apps], dtype=bool),
    )


def _cell_counts(population: Population, count: int, rng: np.random.Generator) -> np.ndarray:
    """Events per (group, slice): one multinomial draw over the whole window."""
    scenario = population.scenario
    start, end = scenario.window
    slices = int(np.ceil((end - start) / SLICE_SECONDS))
    hours = np.array(
        [datetime.fromtimestamp(start + i * SLICE_SECONDS, scenario.tz).hour for i in range(slices)]
    )
    rows = []
    for g, group in enumerate(scenario.groups.values()):
        size = len(population.group_members[g])
        curve = np.array(scenario.diurnal[group.diurnal], dtype=float)
        rows.append(size * group.activity * curve[hours] / curve.sum())
    weights = np.array(rows).ravel()
    if count <= 0 or weights.sum() <= 0:
        return np.zeros((len(rows), slices), dtype=np.int64)
    return rng.multinomial(count, weights / weights.sum()).reshape(len(rows), slices)


def generate_events(population: Population, count: int) -> Iterator[tuple[str, bytes]]:
    """Yield ``count`` events as ``(source address, JSON bytes)`` in event-time order.

    The source address rides along as the Kafka key, so that sinks need not parse.
    """
    scenario = population.scenario
    rng = np.random.default_rng([population.seed, 2])
    table = _app_table(scenario)
    counts = _cell_counts(population, count, rng)
    groups = list(scenario.groups.values())
    ordinary = mix_cdf(scenario.ordinary_mix, table.names)
    vpn_cdfs = [mix_cdf(g.vpn_mix, table.names) for g in groups]
    gateway = [g.vpn_targets.get("gateway", 0.0) / sum(g.vpn_targets.values()) for g in groups]
    realism = Realism(population, table.names, ordinary) if scenario.realistic else None
    formatter = _Formatter(population, table)
    start = scenario.window[0]
    serial = 0
    for k0, k1 in _blocks(counts.sum(axis=0)):
        parts = []
        for g in np.flatnonzero(counts[:, k0:k1].sum(axis=1)).tolist():
            per_slice = counts[g, k0:k1]
            c = int(per_slice.sum())
            members = population.group_members[g]
            slice_of = np.repeat(np.arange(k0, k1), per_slice)
            subs = members[rng.integers(0, len(members), c)]
            is_vpn = rng.random(c) < groups[g].vpn_share
            vpn_app = np.searchsorted(vpn_cdfs[g], rng.random(c), side="right")
            plain_app = np.searchsorted(ordinary, rng.random(c), side="right")
            to_gateway = rng.random(c) < gateway[g]
            parts.append((slice_of, subs, np.where(is_vpn, vpn_app, plain_app), to_gateway))
        slice_of, subs, app, to_gateway = (np.concatenate(c) for c in zip(*parts, strict=True))
        n = len(subs)
        ts = np.round(start + (slice_of + rng.random(n)) * SLICE_SECONDS, 3)
        order = np.argsort(ts, kind="stable")
        subs, app, to_gateway, ts = subs[order], app[order], to_gateway[order], ts[order]
        block = None
        if realism is not None:
            block = realism.block(subs, app, to_gateway, ts, start + k1 * SLICE_SECONDS - 0.001)
            subs, app, to_gateway, ts = block.subs, block.app, block.to_gateway, block.ts
            n = len(subs)
        picks = rng.random((2, n))
        sizes = rng.lognormal(0.0, 1.0, (n, 3)) * table.medians[app]
        sports = rng.integers(*_SPORTS, n)
        yield from formatter.lines(serial, ts, subs, app, to_gateway, picks, sizes, sports, block)
        serial += n


def _blocks(per_slice: np.ndarray) -> Iterator[tuple[int, int]]:
    """Runs of consecutive slices holding about ``BLOCK_EVENTS`` events each.

    Generating a block at once keeps numpy's per-call cost off small slices;
    a block is still a bounded amount of memory, whatever the total.
    """
    ends = np.cumsum(per_slice)
    total = int(ends[-1]) if len(ends) else 0
    k0 = 0
    for mark in range(BLOCK_EVENTS, total + BLOCK_EVENTS, BLOCK_EVENTS):
        k1 = min(int(np.searchsorted(ends, min(mark, total), side="left")) + 1, len(ends))
        if k1 > k0:
            yield k0, k1
            k0 = k1


class _Formatter:
    """Writes events as JSON bytes: choices are resolved with numpy into indexes of
    prepared text (destinations, per-app middles, per-subscriber truth), so the
    per-event Python work is one f-string."""

    def __init__(self, population: Population, table: _AppTable) -> None:
        entities = population.entities
        groups = population.group_names
        self.prefix = f"{population.seed}-"
        addressing = population.addressing
        self.src = addressing.texts if addressing is not None else population.sub_src
        self.v6 = population.sub_v6.astype(np.int64)
        self.entity = population.sub_entity
        self.has_entity = population.sub_entity < len(entities)
        self.reg_at = population.reg_at
        self.rev_at = population.rev_at
        self.truth_entity = [
            f',"entity_id":"{entities[e].entity_id}","category":"{entities[e].category}"'
            if e < len(entities)
            else ""
            for e in population.sub_entity.tolist()
        ]
        self.truth_group = [f',"population_group":"{groups[g]}"' for g in population.sub_group]
        # Destination text: the pools (kind, family) one after another, then the gateways.
        pools = {
            "vpn": _families(population.endpoints),
            "dns": _families(population.dns),
            "content": _families(population.content),
        }
        self.dst: list[str] = []
        offsets, sizes = [], []
        for kind in table.dst_kind:
            for family in (0, 1):
                offsets.append(len(self.dst))
                sizes.append(len(pools[kind][family]))
                self.dst.extend(pools[kind][family])
        self.pool_offset, self.pool_size = np.array(offsets), np.array(sizes)
        self.gateway_offset = np.array([len(self.dst), len(self.dst) + len(entities)])
        self.dst += [e.gateway_v4 for e in entities] + [
            e.gateway_v6 or e.gateway_v4 for e in entities
        ]
        unlisted = _unlisted(population)
        self.unlisted_offset = np.array([len(self.dst), len(self.dst) + len(unlisted[0])])
        self.unlisted_size = np.array([len(unlisted[0]), len(unlisted[1])])
        self.dst += unlisted[0] + unlisted[1]
        self.app_is_vpn_dst = np.array([k == "vpn" for k in table.dst_kind])
        # "...","dport":D,"proto":"P","app":"L","bytes_out": per (app variant, label); the
        # labels begin with the app names, so an unclassified app's label is its own index.
        self.labels = classifier.labels(population.scenario)
        self.middle: list[str] = []
        self.variant_offset = np.array(
            [sum(len(v) for v in table.variants[:a]) for a in range(len(table.names))]
        )
        self.variant_count = np.array([len(v) for v in table.variants])
        for variants in table.variants:
            for proto, dport in variants:
                self.middle.extend(
                    f'","dport":{dport},"proto":"{proto}","app":"{label}","bytes_out":'
                    for label in self.labels
                )
        self.vpn = table.vpn

    def lines(
        self,
        serial: int,
        ts: np.ndarray,
        subs: np.ndarray,
        app: np.ndarray,
        to_gateway: np.ndarray,
        picks: np.ndarray,
        sizes: np.ndarray,
        sports: np.ndarray,
        block: Block | None = None,
    ) -> Iterator[tuple[str, bytes]]:
        ent = self.entity[subs]
        registered = (self.reg_at[ent] <= ts) & (ts < self.rev_at[ent])
        v6 = self.v6[subs]
        pool = app * 2 + v6
        dst = self.pool_offset[pool] + (picks[0] * self.pool_size[pool]).astype(np.int64)
        gateway = self.app_is_vpn_dst[app] & to_gateway & self.has_entity[subs]
        dst = np.where(gateway, self.gateway_offset[v6] + ent, dst)
        variant = self.variant_offset[app] + (picks[1] * self.variant_count[app]).astype(np.int64)
        middle = variant * len(self.labels) + (app if block is None else block.label)
        truth = (self.vpn[app].astype(np.int64) * 2 + registered).tolist()
        extra = [""] * len(subs)
        address = subs
        if block is not None:
            unlisted = self.unlisted_offset[v6] + (picks[0] * self.unlisted_size[v6]).astype(
                np.int64
            )
            dst = np.where(block.unlisted & ~gateway, unlisted, dst)
            extra, address = block.truth, block.address
        columns = zip(
            ts.tolist(),
            subs.tolist(),
            address.tolist(),
            sports.tolist(),
            dst.tolist(),
            middle.tolist(),
            np.rint(sizes[:, 0]).astype(np.int64).tolist(),
            np.rint(sizes[:, 1]).astype(np.int64).tolist(),
            np.round(sizes[:, 2], 3).tolist(),
            truth,
            extra,
            strict=True,
        )
        src, dsts, middles = self.src, self.dst, self.middle
        t_entity, t_group, prefix = self.truth_entity, self.truth_group, self.prefix
        for n, (t, s, a, sport, d, m, bo, bi, dur, tr, x) in enumerate(columns, start=serial):
            text = src[a]
            yield (
                text,
                (
                    f'{{"id":"{prefix}{n}","ts":{t!r},"src":"{text}","sport":{sport},'
                    f'"dst":"{dsts[d]}{middles[m]}{bo},"bytes_in":{bi},"duration":{dur!r},'
                    f"{_TRUTH_HEAD[tr]}{t_entity[s]}{_TRUTH_REGISTERED[tr]}{t_group[s]}{x}}}}}"
                ).encode(),
            )


# Indexed by is_vpn * 2 + registered_at_event_time.
_TRUTH_HEAD = (
    '"truth":{"is_vpn":false',
    '"truth":{"is_vpn":false',
    '"truth":{"is_vpn":true',
    '"truth":{"is_vpn":true',
)
_TRUTH_REGISTERED = ("", ',"registered_at_event_time":true', "", ',"registered_at_event_time":true')


def _unlisted(population: Population) -> tuple[list[str], list[str]]:
    """VPN servers on no list (where users switch to): the enforcement block's own CIDRs,
    else cloud hosting among the content addresses."""
    enforcement = population.scenario.enforcement
    if enforcement is None:
        return [], []
    if not enforcement.unlisted_endpoints:
        return _families(population.content)
    rng = np.random.default_rng([population.seed, 5])
    return _families(by_family(sample_hosts(rng, enforcement.unlisted_endpoints, 256)))


def _families(pools: tuple[list[str], list[str]]) -> tuple[list[str], list[str]]:
    """(v4 pool, v6 pool), each falling back to the other family when empty."""
    v4, v6 = pools
    return (v4 or v6, v6 or v4)
