"""Flags named in the light options module stay in step with the code that implements them."""

from __future__ import annotations

from policysim.commands import options
from policysim.simulators.logfiles import FORMATS
from policysim.streams.producers import DEFAULT_PRODUCER, PRODUCERS


def test_producer_names_match_the_producers() -> None:
    assert set(options.PRODUCER_NAMES) == set(PRODUCERS)
    assert options.DEFAULT_PRODUCER == DEFAULT_PRODUCER


def test_events_formats_match_the_readers() -> None:
    assert set(options.EVENTS_FORMATS) == set(FORMATS)
