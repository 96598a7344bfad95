"""Times as epoch seconds: the one reading of a time that events, policies, registries and
scenarios share.

A time is epoch seconds (a number, or text of one) or ISO 8601 text. Text
without a UTC offset means nothing on its own, so it is read in a given time
zone (a policy's or a scenario's ``timezone``) or, where there is none (events
and registry records, which travel between systems), refused. Having one
reader means ``2024-12-01T00:00:00+05:00`` is the same moment in an event, a
phase, a registration and a scenario window.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, tzinfo

_EXAMPLE = "2024-12-01T00:00:00+05:00"


def parse_timestamp(value: object, zone: tzinfo | None = None) -> float:
    """Epoch seconds of ``value``: a number, numeric text, ISO 8601 text, a datetime or a date.

    Without a UTC offset, text, datetimes and dates are in ``zone``; when
    ``zone`` is None they are refused. Raises ``ValueError`` with a sentence
    saying what is wrong and how to write it instead.
    """
    if isinstance(value, str):
        try:
            return _finite(float(value), value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(_not_a_time(value)) from None
    elif isinstance(value, bool):
        raise ValueError(_not_a_time(value))
    elif isinstance(value, int | float):
        return _finite(float(value), value)
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0))
    else:
        raise ValueError(_not_a_time(value))
    if moment.tzinfo is None:
        if zone is None:
            raise ValueError(f"{value!r} has no UTC offset: add one, as in {_EXAMPLE} (Z for UTC)")
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()


def _finite(seconds: float, value: object) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite time")
    return seconds


def _not_a_time(value: object) -> str:
    return f"{value!r} is not a time: write ISO 8601, as in {_EXAMPLE}, or epoch seconds"
