"""The one reader of times: events, policies, registries and scenarios agree on every moment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policysim.policies.timestamps import parse_timestamp

KARACHI = ZoneInfo("Asia/Karachi")
MIDNIGHT_PKT = datetime(2024, 12, 1, tzinfo=KARACHI).timestamp()


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("2024-12-01T00:00:00+05:00", None),
        ("2024-11-30T19:00:00Z", None),
        (" 2024-11-30T19:00:00+00:00 ", None),
        ("2024-12-01T00:00:00", KARACHI),
        ("2024-12-01", KARACHI),
        (date(2024, 12, 1), KARACHI),
        (datetime(2024, 12, 1), KARACHI),
        (datetime(2024, 11, 30, 19, tzinfo=UTC), None),
        (MIDNIGHT_PKT, None),
        (int(MIDNIGHT_PKT), None),
        (str(MIDNIGHT_PKT), None),
    ],
)
def test_every_spelling_of_one_moment(value: object, zone: ZoneInfo | None) -> None:
    assert parse_timestamp(value, zone) == MIDNIGHT_PKT


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-12-01T00:00:00", "'2024-12-01T00:00:00' has no UTC offset: add one, as in"),
        ("tomorrow", "'tomorrow' is not a time: write ISO 8601, as in"),
        (True, "True is not a time"),
        (None, "None is not a time"),
        (float("inf"), "inf is not a finite time"),
        ("nan", "'nan' is not a time"),
    ],
)
def test_what_is_not_a_time_says_how_to_write_one(value: object, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_timestamp(value)
    assert str(refused.value).startswith(message)


@given(st.datetimes(timezones=st.timezones()))
def test_iso_text_round_trips(moment: datetime) -> None:
    assert parse_timestamp(moment.isoformat()) == pytest.approx(moment.timestamp(), abs=1e-6)
