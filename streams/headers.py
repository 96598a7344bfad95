"""The Kafka message headers policysim writes and reads, spelled once.

Every event message carries ``sent_at``: the producer's scheduled send time
(epoch seconds as ASCII decimal text), from which the worker measures
end-to-end latency. Verdict messages add ``taken_at`` (when the worker took
the batch) and ``policy`` (which policy decided), so a reader can split the
latency into stages and pick one policy's verdicts without decoding them.
"""

from __future__ import annotations

from collections.abc import Sequence

SENT_AT_HEADER = "sent_at"
TAKEN_AT_HEADER = "taken_at"
POLICY_HEADER = "policy"


def time_value(seconds: float) -> bytes:
    """A time header's value: epoch seconds as ASCII decimal text (microseconds)."""
    return f"{seconds:.6f}".encode("ascii")


def time_of(headers: Sequence[tuple[str, bytes]] | None, name: str) -> float | None:
    """The time in header ``name`` (epoch seconds), if present and a number."""
    for key, value in headers or ():
        if key == name:
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def sent_at_of(headers: Sequence[tuple[str, bytes]] | None) -> float | None:
    """The producer's send time (epoch seconds), if the message has a sane ``sent_at``."""
    return time_of(headers, SENT_AT_HEADER)
