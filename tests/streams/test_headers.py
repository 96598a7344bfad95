"""The message headers: one spelling, and time values that read back as written."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from policysim.streams.headers import SENT_AT_HEADER, sent_at_of, time_of, time_value


def test_sent_at_header_parsing() -> None:
    assert sent_at_of([("x", b"1"), ("sent_at", b"12.5")]) == 12.5
    assert sent_at_of([("sent_at", b"soon")]) is None
    assert sent_at_of([]) is None
    assert sent_at_of(None) is None  # Faust messages may carry no headers at all
    assert time_of([("taken_at", b"3")], "taken_at") == 3.0


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_time_values_read_back_to_the_microsecond(seconds: float) -> None:
    value = time_value(seconds)
    assert value.decode("ascii") == f"{seconds:.6f}"
    # Half a microsecond from rounding to six decimals, plus the float's own spacing there.
    assert abs(sent_at_of([(SENT_AT_HEADER, value)]) - seconds) <= 5e-7 + math.ulp(seconds)
