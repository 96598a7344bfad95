"""The realistic layer of the event stream: labels, moving and shared addresses, need,
approval, response to blocking, and the truth that says what really happened.

It works on a block of events the plain generator has drawn (subscribers,
true apps, times) with its own random stream ``(seed, 4)``, so a scenario
without realistic blocks never reaches it and keeps its exact bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policysim.policies.address_columns import AddressColumns
from policysim.policies.addresses import parse_ip
from policysim.simulators import classifier
from policysim.simulators.mixes import mix_cdf
from policysim.simulators.people import Population
from policysim.simulators.registrations import build_registry
from policysim.simulators.response import OBFUSCATED, STOPPED, UNLISTED, build_response

RETRY_SECONDS = (1.0, 30.0)  # a blocked connection is tried again this much later


@dataclass(frozen=True)
class Block:
    """A block's events after the realistic layer, in time order."""

    subs: np.ndarray
    app: np.ndarray  # the true transport
    to_gateway: np.ndarray
    ts: np.ndarray
    label: np.ndarray  # what the classifier reports (index into labels)
    address: np.ndarray  # the source address id
    unlisted: np.ndarray  # bool: to a VPN server on no list
    truth: list[str]  # the truth fields after population_group, as JSON text


class Realism:
    """Everything fixed for a population that the realistic layer looks up per event."""

    def __init__(self, population: Population, app_names: list[str], ordinary: np.ndarray) -> None:
        scenario = population.scenario
        assert population.addressing is not None and population.sub_named is not None
        assert population.sub_remote is not None
        self.population = population
        self.addressing = population.addressing
        self.rng = np.random.default_rng([population.seed, 4])
        self.labels = classifier.labels(scenario)
        self.label_cdf = classifier.label_cdf(scenario)
        self.app_names = app_names
        self.vpn = np.array([scenario.apps[n].vpn for n in app_names], dtype=bool)
        self.ordinary = ordinary
        self.registry = build_registry(population)
        self.ips = [parse_ip(text) for text in self.addressing.texts]
        self.reg_at, self.rev_at = population.reg_at, population.rev_at
        self.applied_at = population.applied_at
        groups = list(scenario.groups.values())
        self.business = np.array(
            [np.nan if g.business_use is None else g.business_use for g in groups]
        )
        self.with_app = scenario.classifier is not None
        self.response = None
        self.obfuscated = None
        if scenario.enforcement is not None:
            self.response = build_response(scenario, len(population.sub_src), self.rng)
            if scenario.enforcement.obfuscated_mix:
                self.obfuscated = mix_cdf(scenario.enforcement.obfuscated_mix, app_names)

    def block(
        self, subs: np.ndarray, app: np.ndarray, to_gateway: np.ndarray, ts: np.ndarray, end: float
    ) -> Block:
        """Apply the response, label and address the events, and write their truth."""
        rng = self.rng
        ent = self.population.sub_entity[subs]
        registered = (self.reg_at[ent] <= ts) & (ts < self.rev_at[ent])
        unlisted = np.zeros(len(subs), dtype=bool)
        if self.response is not None:
            state = np.where(self.vpn[app] & ~registered, self.response.state(subs, ts), 0)
            if self.obfuscated is not None:
                switched = np.searchsorted(self.obfuscated, rng.random(len(subs)), side="right")
                app = np.where(state == OBFUSCATED, switched, app)
            plain = np.searchsorted(self.ordinary, rng.random(len(subs)), side="right")
            app = np.where(state == STOPPED, plain, app)
            unlisted = (state == UNLISTED) & self.vpn[app]
            subs, app, to_gateway, ts, unlisted = self._retries(
                subs, app, to_gateway, ts, unlisted, registered, end
            )
            ent = self.population.sub_entity[subs]
            registered = (self.reg_at[ent] <= ts) & (ts < self.rev_at[ent])
        label = classifier.draw(self.label_cdf, app, rng.random(len(subs)))
        address = self.addressing.at(subs, ts)
        truth = self._truth(subs, app, ts, ent, registered, address)
        return Block(subs, app, to_gateway, ts, label, address, unlisted, truth)

    def _retries(
        self,
        subs: np.ndarray,
        app: np.ndarray,
        to_gateway: np.ndarray,
        ts: np.ndarray,
        unlisted: np.ndarray,
        registered: np.ndarray,
        end: float,
    ) -> tuple[np.ndarray, ...]:
        """Retried copies of the VPN connections blocking would stop, in place of as many
        ordinary connections of the block (so the count stays what was asked for)."""
        assert self.response is not None
        n = len(subs)
        exposed = self.vpn[app] & ~registered & self.response.blocking(ts)
        tries = np.where(exposed, self.rng.poisson(self.response.retries, n), 0)
        ordinary = np.flatnonzero(~self.vpn[app])
        extra = int(min(tries.sum(), len(ordinary)))
        if extra == 0:
            return subs, app, to_gateway, ts, unlisted
        copies = np.repeat(np.arange(n), tries)[:extra]
        delay = self.rng.uniform(*RETRY_SECONDS, extra)
        dropped = self.rng.choice(ordinary, extra, replace=False)
        keep = np.ones(n, dtype=bool)
        keep[dropped] = False
        rows = np.concatenate([np.flatnonzero(keep), copies])
        new_ts = np.concatenate([ts[keep], np.minimum(np.round(ts[copies] + delay, 3), end)])
        order = np.argsort(new_ts, kind="stable")
        rows = rows[order]
        return subs[rows], app[rows], to_gateway[rows], new_ts[order], unlisted[rows]

    def _covered(self, address: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Whether anyone's registration covers each source address at its time."""
        columns = AddressColumns([self.ips[a] for a in address.tolist()])
        found = self.registry.categories_batch(columns, ts)
        return np.array([c is not None for c in found], dtype=bool)

    def _truth(
        self,
        subs: np.ndarray,
        app: np.ndarray,
        ts: np.ndarray,
        ent: np.ndarray,
        registered: np.ndarray,
        address: np.ndarray,
    ) -> list[str]:
        """The truth fields after ``population_group``, in the struct's order."""
        population = self.population
        n = len(subs)
        covered = self._covered(address, ts)
        share = self.business[population.sub_group[subs]]
        business = np.where(
            np.isnan(share) | ~self.vpn[app], -1, (self.rng.random(n) < share).astype(int)
        )
        named = population.sub_named[subs]
        changed = (named >= 0) & (address != named) & (ts >= self.applied_at[ent])
        remote = population.sub_remote[subs]
        pending = (self.applied_at[ent] <= ts) & (ts < self.reg_at[ent]) & ~registered
        shared = self.addressing.shared_by[address]
        names = self.app_names
        out = []
        for a, b, s, c, sh, ch, r, p in zip(
            app.tolist(), business.tolist(), subs.tolist(), covered.tolist(), shared.tolist(),
            changed.tolist(), remote.tolist(), pending.tolist(), strict=True,
        ):  # fmt: skip
            out.append(
                (f',"app":"{names[a]}"' if self.with_app else "")
                + ("" if b < 0 else _BUSINESS[b])
                + f',"subscriber_id":"s{s}","address_registered_at_event_time":'
                + ("true" if c else "false")
                + (f',"shared_by":{sh}' if sh > 1 else "")
                + (',"address_changed":true' if ch else "")
                + (',"remote":true' if r else "")
                + (',"registration_pending":true' if p else "")
            )
        return out


_BUSINESS = (',"business_use":false', ',"business_use":true')
