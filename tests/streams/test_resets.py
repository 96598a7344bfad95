"""find_reset: when the broker no longer holds what the worker did."""

from __future__ import annotations

from policysim.streams.resets import find_reset

T = "connections"


def test_nothing_lost_is_no_reset() -> None:
    assert find_reset(T, {T}, {(T, 0): 40}, {(T, 0): 40}, {(T, 0): 41}, {(T, 0): 41}) is None
    assert find_reset(T, {T}, {}, {(T, 0): 0}, {}, {}) is None  # nothing committed yet


def test_a_missing_topic_lost_commits_or_a_short_partition_is_a_reset() -> None:
    assert find_reset(T, set(), {}, {}, {}, {}) == "topic_missing"
    assert find_reset(T, {T}, {}, {(T, 0): 40}, {}, {}) == "offsets_lost"
    assert find_reset(T, {T}, {(T, 0): 3}, {(T, 0): 40}, {}, {}) == "offsets_lost"
    assert find_reset(T, {T}, {}, {}, {(T, 1): 41}, {(T, 1): 5}) == "end_below_position"
