"""What a DPI classifier reports: a label drawn per event from its true transport.

Without a ``classifier:`` block every app is labelled with its own name (the
plain model). With one, ``transports`` give each true VPN transport's label
probabilities and ``false_positives`` the rates at which ordinary apps get
another label; labels are app names or the block's extra ``labels`` (such as
``ssl`` or ``unknown``).
"""

from __future__ import annotations

import numpy as np

from policysim.simulators.mixes import cumulative
from policysim.simulators.scenario import Scenario


def labels(scenario: Scenario) -> list[str]:
    """Every label an event may carry: the app names, then the classifier's own labels."""
    extra = scenario.classifier.labels if scenario.classifier else []
    return [*scenario.apps, *extra]


def label_cdf(scenario: Scenario) -> np.ndarray:
    """Cumulative label probabilities, one row per app (in ``scenario.apps`` order).

    A row is :func:`~policysim.simulators.mixes.cumulative`: a draw never lands on a
    label of probability 0.
    """
    names = labels(scenario)
    rows = []
    classifier = scenario.classifier
    for i, app in enumerate(scenario.apps):
        p = np.zeros(len(names))
        given = {}
        if classifier is not None:
            given = classifier.transports.get(app) or classifier.false_positives.get(app, {})
        for label, rate in given.items():
            p[names.index(label)] += rate
        if app not in (classifier.transports if classifier else {}):
            p[i] += max(0.0, 1.0 - sum(given.values()))
        rows.append(cumulative(p))
    return np.array(rows)


def draw(cdf: np.ndarray, app: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The label index of each event, from its true app and a uniform draw."""
    return (u[:, None] >= cdf[app]).sum(axis=1)
