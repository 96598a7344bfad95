"""How VPN users without a registration respond to blocking, as a function of exposure.

The simulator cannot see verdicts, so the response is modelled from the
scenario's ``enforcement`` calendar: exposure is the time blocking has been
on (the trial windows, then everything from ``blocking_from``). Each
subscriber gets three exposure thresholds, exponential with the per-day rates
``switch_obfuscated``, ``switch_unlisted`` and ``stop``; once exposure passes
the first of them, its VPN connections (while its entity holds no
registration) go over an obfuscated transport, to a provider on no list, or
stop (the connection becomes ordinary traffic). While blocking is on, such a
connection is retried a Poisson(``retries``) number of times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from policysim.simulators.scenario import Scenario

DAY = 86_400.0
OBFUSCATED, UNLISTED, STOPPED = 1, 2, 3


@dataclass(frozen=True)
class Response:
    """Blocking windows and each subscriber's first switch (kind and exposure in days)."""

    windows: np.ndarray  # (k, 2): [from, until) of blocking
    first_kind: np.ndarray  # per subscriber: OBFUSCATED, UNLISTED or STOPPED
    first_at: np.ndarray  # per subscriber: exposure days when it switches (inf: never)
    retries: float

    def exposure_days(self, ts: np.ndarray) -> np.ndarray:
        begin, end = self.windows[:, 0], self.windows[:, 1]
        spans = np.clip(ts[:, None] - begin, 0, end - begin)
        return spans.sum(axis=1) / DAY

    def blocking(self, ts: np.ndarray) -> np.ndarray:
        begin, end = self.windows[:, 0], self.windows[:, 1]
        return ((ts[:, None] >= begin) & (ts[:, None] < end)).any(axis=1)

    def state(self, subs: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """0 (unchanged) or the kind of switch each subscriber has made by each time."""
        switched = self.exposure_days(ts) >= self.first_at[subs]
        return np.where(switched, self.first_kind[subs], 0)


def build_response(scenario: Scenario, subscribers: int, rng: np.random.Generator) -> Response:
    """The response of ``subscribers`` to the scenario's enforcement (which must be set)."""
    e = scenario.enforcement
    assert e is not None
    windows = [(scenario.time(t.from_), scenario.time(t.until)) for t in e.trials]
    windows.append((scenario.time(e.blocking_from), math.inf))
    rates = np.array([e.switch_obfuscated, e.switch_unlisted, e.stop], dtype=float)
    draws = rng.exponential(1.0, (subscribers, 3))
    with np.errstate(divide="ignore"):
        at = np.where(rates > 0, draws / np.where(rates > 0, rates, 1.0), math.inf)
    kind = at.argmin(axis=1) + 1
    return Response(np.array(windows, dtype=float), kind, at.min(axis=1), e.retries)
