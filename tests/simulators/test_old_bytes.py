"""Scenarios that leave the realistic blocks out keep their exact event and registry bytes.

The digests were taken from the generator before the classifier, addressing, need,
approval and response models existed; pta-deadline is pinned with address lists of its
own so the figure does not depend on which address lists are installed.
"""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from policysim.base.settings import Settings
from policysim.simulators.generator import generate_events
from policysim.simulators.population import build_population
from policysim.simulators.registrations import registration_lines
from policysim.simulators.scenario import load_scenario

SPACE = ["39.32.0.0/11", "111.68.96.0/20", "182.176.0.0/12", "2400:adc0::/32", "2407:aa80::/32"]
ENDPOINTS = ["198.51.100.10", "198.51.100.11", "203.0.113.40", "185.65.134.0", "2001:db8:7e::10"]
PINNED = {
    "small-isp": (
        "492a7d183ccd0781e6aff13ee43ea9abb4fa54e8f8b2659ce8381c6096ca4fcf",
        "20e82c832e9765b01f838e4dd70d905782fb85b3bae529ead931dbd8b60f20c2",
    ),
    "pta-deadline": (
        "ac388e38ae4c547da6bbfcac406f4b48fa3c759fb578e01a80d60677a8900a9d",
        "81c5182dd142ae45c445df553ec13157626ddeebd272969b834e22cfe8887415",
    ),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_first_events_and_registrations_keep_their_bytes(name: str) -> None:
    scenario = load_scenario(name)
    if name == "pta-deadline":
        scenario = msgspec.structs.replace(
            scenario, subscriber_space=SPACE, vpn_endpoints=ENDPOINTS
        )
    population = build_population(scenario, 7, Settings())
    events = hashlib.sha256()
    for _, line in generate_events(population, 30_000):
        events.update(line + b"\n")
    records = b"".join(line + b"\n" for line in registration_lines(population))
    assert (events.hexdigest(), hashlib.sha256(records).hexdigest()) == PINNED[name]
