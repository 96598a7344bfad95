"""Weighted choices drawn with one uniform number each: cumulative weights for searchsorted."""

from __future__ import annotations

import numpy as np


def cumulative(weights: np.ndarray) -> np.ndarray:
    """Cumulative shares of ``weights`` (not all 0).

    Entries from the last weighted choice on are exactly 1.0, so a draw in
    [0, 1) can never land on a choice of weight 0 through rounding.
    """
    cdf = np.cumsum(weights) / weights.sum()
    cdf[int(np.flatnonzero(weights)[-1]) :] = 1.0
    return cdf


def mix_cdf(mix: dict[str, float], names: list[str]) -> np.ndarray:
    """Cumulative weights over all apps ``names`` (apps outside the mix weigh 0; an empty
    or all-0 mix picks the first app)."""
    weights = np.array([mix.get(n, 0.0) for n in names], dtype=float)
    if weights.sum() <= 0:
        weights[0] = 1.0
    return cumulative(weights)
