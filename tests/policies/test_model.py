"""The wire models: every bad event becomes a rejection with a bounded reason."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policysim.policies.addresses import format_ip, parse_ip
from policysim.policies.model import (
    REJECT_REASONS,
    Event,
    Rejection,
    Truth,
    Verdict,
    decode_event,
    decode_message,
    encode,
    event_schema,
    label,
)

GOOD = (
    b'{"id":"e1","ts":1732700000.5,"src":"39.40.1.2","sport":51234,'
    b'"dst":"203.0.113.9","dport":51820,"proto":"UDP","app":"wireguard"}'
)


def test_good_event_decodes_and_normalises() -> None:
    (event,) = decode_message(GOOD)
    assert isinstance(event, Event)
    assert event.proto == "udp"
    assert event.ts == 1732700000.5
    (event,) = decode_message(GOOD.replace(b'"wireguard"', b'"WireGuard"'))
    assert event.app == "wireguard"


def test_iso_timestamp_becomes_epoch_seconds() -> None:
    raw = GOOD.replace(b"1732700000.5", b'"2024-12-02T10:00:00+05:00"')
    event = decode_event(raw)
    assert isinstance(event, Event)
    assert event.ts == 1733115600.0


def test_a_bad_timestamp_says_how_to_write_one() -> None:
    rejection = decode_event(GOOD.replace(b"1732700000.5", b'"2024-12-02T10:00:00"'))
    assert isinstance(rejection, Rejection)
    assert rejection.detail == (
        "`ts` '2024-12-02T10:00:00' has no UTC offset: add one, as in 2024-12-01T00:00:00+05:00"
        " (Z for UTC)"
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not_json"),
        (b"42", "not_an_event"),
        (GOOD.replace(b'"sport":51234,', b""), "missing_field"),
        (GOOD.replace(b"51234", b'"51234"'), "wrong_type"),
        (GOOD.replace(b"51234", b"70000"), "bad_value"),
        (GOOD.replace(b"39.40.1.2", b"39.40.1.256"), "bad_address"),
        (GOOD.replace(b"1732700000.5", b'"2024-12-02T10:00:00"'), "bad_timestamp"),
        (GOOD.replace(b'"e1"', b'""'), "bad_value"),
    ],
)
def test_bad_events_are_rejections_with_a_known_reason(raw: bytes, reason: str) -> None:
    (rejection,) = decode_message(raw, source="connections/0/7")
    assert isinstance(rejection, Rejection)
    assert rejection.reason == reason
    assert rejection.reason in REJECT_REASONS
    assert rejection.source == "connections/0/7"
    assert rejection.raw == raw.decode()


def test_envelope_rejects_only_its_bad_members() -> None:
    raw = b"[" + GOOD + b',{"id":"x"},' + GOOD.replace(b"e1", b"e2") + b"]"
    decoded = decode_message(raw, source="t/1/2")
    assert [type(d) for d in decoded] == [Event, Rejection, Event]
    assert decoded[1].source == "t/1/2#1"
    assert decoded[1].reason == "missing_field"


def test_oversize_is_per_event_not_per_envelope() -> None:
    big = GOOD.replace(b'"id":"e1"', b'"id":"big","pad":"' + b"x" * 2000 + b'"')
    decoded = decode_message(b"[" + b",".join([GOOD] * 49 + [big]) + b"]", max_bytes=1000)
    assert [type(d) for d in decoded] == [Event] * 49 + [Rejection]
    rejection = decoded[-1]
    assert (rejection.reason, rejection.index, rejection.id) == ("oversize", 49, "big")
    assert rejection.size == len(big)
    assert rejection.raw == big[:1024].decode() and rejection.tail == big[-256:].decode()


def test_oversize_single_message_keeps_its_id_size_and_ends() -> None:
    big = GOOD.replace(b'"id":"e1"', b'"id":"big","pad":"' + b"x" * 5000 + b'"')
    (rejection,) = decode_message(big, max_bytes=1000)
    assert (rejection.reason, rejection.id, rejection.size) == ("oversize", "big", len(big))
    assert len(rejection.raw) == 1024 and rejection.tail.endswith('"app":"wireguard"}')


def test_verdict_round_trips_with_nulls_kept() -> None:
    verdict = Verdict(
        id="e1",
        ts=1.0,
        policy="p",
        policy_version=1,
        decision="allow",
        rule=None,
        phase=None,
        registry_version=3,
        truth=Truth(is_vpn=True, registered_at_event_time=False),
    )
    text = encode(verdict)
    assert b'"rule":null' in text and b'"phase":null' in text
    assert Truth(is_vpn=True).label() == "vpn_unregistered"


def test_schema_names_every_required_field() -> None:
    schema = event_schema()
    event = schema["$defs"]["Event"]
    assert set(event["required"]) == {"id", "ts", "src", "sport", "dst", "dport", "proto"}


@given(st.ip_addresses())
def test_parse_ip_agrees_with_ipaddress(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    version, value = parse_ip(str(address))
    mapped = getattr(address, "ipv4_mapped", None)
    reference = mapped or address
    assert (version, value) == (reference.version, int(reference))
    assert ipaddress.ip_address(format_ip((version, value))) == reference


@pytest.mark.parametrize("text", ["", "1.2.3", "01.2.3.4", "1.2.3.4 ", "::g", "1::2::3", "x"])
def test_parse_ip_refuses_what_ipaddress_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        ipaddress.ip_address(text)
    with pytest.raises(ValueError):
        parse_ip(text)


@given(st.text(st.characters(blacklist_categories=("Cc",)), min_size=1))
def test_app_and_proto_are_compared_in_lower_case(text: str) -> None:
    assert label(text) == text.lower()
    event = Event(
        id="e", ts=0.0, src="1.2.3.4", sport=1, dst="5.6.7.8", dport=2, proto=text, app=text
    )
    assert event.app == event.proto == label(text)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ((b"1732700000.5", b'"NaN"'), "bad_timestamp"),
        ((b"1732700000.5", b'"inf"'), "bad_timestamp"),
        ((b"1732700000.5", b"1e400"), "bad_timestamp"),
        ((b"1732700000.5", b"1e20"), "bad_timestamp"),
        ((b"1732700000.5", b"-1e18"), "bad_timestamp"),
        ((b"1732700000.5", b'"2101-01-01T00:00:00Z"'), "bad_timestamp"),
        ((b"39.40.1.2", b"fe80::1%eth0"), "bad_address"),
        ((b'"UDP"', b'""'), "bad_value"),
        ((b'"e1"', b'"e\\u00001"'), "bad_value"),
        ((b'"wireguard"', b'"wire\\u001bguard"'), "bad_value"),
        ((b'"e1"', b'"\xff"'), "not_json"),
    ],
)
def test_refused_fields_have_their_reason(change: tuple[bytes, bytes], reason: str) -> None:
    (item,) = decode_message(GOOD.replace(*change))
    assert isinstance(item, Rejection) and item.reason == reason, item


def test_the_accepted_years_come_from_the_settings() -> None:
    from policysim.policies.model import set_time_window, time_window

    before = time_window()
    try:
        set_time_window(2000, 2030)
        assert isinstance(decode_event(GOOD), Event)
        (item,) = decode_message(GOOD.replace(b"1732700000.5", b"946684799"))
        assert item.reason == "bad_timestamp"
    finally:
        set_time_window(1970, 2100)
    assert time_window() == before


def test_non_ascii_text_is_kept_and_an_empty_envelope_is_counted() -> None:
    event = decode_event(GOOD.replace(b'"e1"', '"é\u00a01"'.encode()))
    assert isinstance(event, Event) and event.id == "é\u00a01"
    (item,) = decode_message(b" []")
    assert (item.reason, item.detail) == ("not_an_event", "an envelope with no events")
