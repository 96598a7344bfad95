"""Evaluation that one event cannot break.

The engine decides a whole batch in one call, which is what makes it fast;
but one event that trips a fault in it would take the verdicts of the whole
batch with it. :func:`evaluate_guarded` keeps the fast path and, only when it
raises, decides event by event, so the failure is pinned on the events that
cause it. The stream worker and the offline evaluator share it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from policysim.policies.model import Event, Verdict

log = logging.getLogger(__name__)


def evaluate_guarded(
    engine: Any, events: Sequence[Event]
) -> tuple[list[list[Verdict]], list[tuple[int, Exception]]]:
    """Verdicts ``[policy][event]`` of the events that could be decided, and the failures.

    ``engine`` is an :class:`policysim.policies.engine.Engine`. Each failure is
    ``(index in events, exception)``; the verdict lists then skip that event,
    so they stay aligned with ``events`` minus the failed ones.
    """
    try:
        return engine.evaluate(events), []
    except Exception:  # the event by event pass below names the culprit
        log.debug("batch evaluation failed; deciding event by event", exc_info=True)
    kept: list[list[Verdict]] = [[] for _ in engine.policies]
    failures: list[tuple[int, Exception]] = []
    for index, event in enumerate(events):
        try:
            per_policy = engine.evaluate([event])
        except Exception as exc:  # this event's failure, reported by the caller
            failures.append((index, exc))
            continue
        for verdicts, (verdict,) in zip(kept, per_policy, strict=True):
            verdicts.append(verdict)
    return kept, failures
