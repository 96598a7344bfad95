"""The wire models: connection events in, verdicts out, rejections aside.

One definition serves the simulators (which write events), the stream
worker and the offline evaluator (which read them) and the reports (which
read verdicts), so the JSON every part speaks cannot drift. The models are
:mod:`msgspec` structs because decoding and validating with them costs a few
microseconds per event, which the stream's hot loop can afford.

Validation never raises out of :func:`decode_message` or :func:`decode_event`:
bad input becomes a :class:`Rejection` whose ``reason`` is one of
:data:`REJECT_REASONS`, a small fixed vocabulary so it can be a metric label.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from policysim.base.vocabulary import Decision, truth_label
from policysim.policies.addresses import parse_ip
from policysim.policies.timestamps import parse_timestamp

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]

REJECT_REASONS: tuple[str, ...] = (
    "not_json",
    "not_an_event",
    "missing_field",
    "wrong_type",
    "bad_address",
    "bad_timestamp",
    "bad_value",
    "oversize",
)


class Truth(msgspec.Struct, omit_defaults=True):
    """Ground truth that simulators attach to an event; rules never read it."""

    is_vpn: bool
    entity_id: str | None = None
    category: str | None = None
    registered_at_event_time: bool = False
    population_group: str | None = None

    def label(self) -> str:
        """The confusion-matrix cell: ``vpn_registered``, ``non_vpn_unregistered``, ..."""
        return truth_label(self.is_vpn, self.registered_at_event_time)


class Event(msgspec.Struct, omit_defaults=True):
    """A connection event.

    ``ts`` is accepted as epoch seconds or ISO 8601 text with a UTC offset and
    is always epoch seconds (a float) once decoded; ``src`` and ``dst`` are
    checked to be IPv4 or IPv6 addresses; ``proto`` and ``app`` are
    lower-cased, as rule values are, so they match without regard to case.
    """

    id: str
    ts: float | str
    src: str
    sport: Port
    dst: str
    dport: Port
    proto: str
    app: str | None = None
    bytes_out: Annotated[int, msgspec.Meta(ge=0)] | None = None
    bytes_in: Annotated[int, msgspec.Meta(ge=0)] | None = None
    duration: Annotated[float, msgspec.Meta(ge=0)] | None = None
    truth: Truth | None = None

    def __post_init__(self) -> None:
        if isinstance(self.ts, str):
            try:
                self.ts = parse_timestamp(self.ts)
            except ValueError as exc:
                raise ValueError(f"bad_timestamp: `ts` {exc}") from None
        if not self.id:
            raise ValueError("bad_value: `id` is empty")
        for name in ("src", "dst"):
            text = getattr(self, name)
            try:
                parse_ip(text)
            except ValueError:
                raise ValueError(f"bad_address: `{name}` is not an IP address: {text!r}") from None
        # What label() does, spelt out: this runs for every event the worker decodes.
        if not self.proto.islower():
            self.proto = self.proto.lower()
        if self.app is not None and not self.app.islower():
            self.app = self.app.lower()


class Verdict(msgspec.Struct, omit_defaults=True):
    """One policy's decision on one event.

    ``rule`` is null when the policy's default decided, ``phase`` is null when
    no phase covers the event time. ``enforced`` is false for shadow policies.
    The event's ``src``, ``dst``, ``app`` and ``truth`` ride along (and
    ``category``, the registered category of the source at event time) so
    that a verdict stream alone is enough for an impact report.
    """

    id: str
    ts: float
    policy: str
    policy_version: int
    decision: Decision
    rule: str | None
    phase: str | None
    registry_version: int
    enforced: bool = True
    category: str | None = None
    src: str | None = None
    dst: str | None = None
    app: str | None = None
    truth: Truth | None = None


class Rejection(msgspec.Struct, omit_defaults=True):
    """Input that could not become an event, with why and where it came from."""

    reason: str
    detail: str
    raw: str = ""
    source: str = ""


def label(text: str) -> str:
    """The form in which ``app`` and ``proto`` values are compared: lower case.

    ``WireGuard`` in a rule and ``wireguard`` from a classifier are the same
    application; events and policy rules both pass their values through here.
    Text already in lower case is returned as it is (not copied), so equal
    labels stay one object and the engine's per-batch vocabularies stay cheap.
    """
    return text if text.islower() else text.lower()


_event_decoder = msgspec.json.Decoder(Event)
_envelope_decoder = msgspec.json.Decoder(list[Event])
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_encoder = msgspec.json.Encoder()


def _reason_of(error: msgspec.ValidationError) -> tuple[str, str]:
    """Map msgspec's message to one of :data:`REJECT_REASONS` plus the detail text."""
    message = str(error)
    head, sep, rest = message.partition(": ")
    if sep and head in REJECT_REASONS:
        return head, rest
    if message.startswith("Object missing required field"):
        return "missing_field", message
    if message.startswith("Expected `object`"):
        return "not_an_event", message
    if message.startswith("Expected") and ("<=" in message or ">=" in message):
        return "bad_value", message
    if message.startswith("Expected"):
        return "wrong_type", message
    return "bad_value", message


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def decode_event(raw: bytes | str, source: str = "") -> Event | Rejection:
    """Decode one JSON object into an :class:`Event`, or say why not."""
    try:
        return _event_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        reason, detail = _reason_of(exc)
    except msgspec.DecodeError as exc:
        reason, detail = "not_json", str(exc)
    text = raw if isinstance(raw, str) else _text(raw)
    return Rejection(reason=reason, detail=detail, raw=text, source=source)


def decode_message(raw: bytes, source: str = "", max_bytes: int = 0) -> list[Event | Rejection]:
    """Decode a Kafka message: one event object, or an envelope (a JSON array) of them.

    A bad event inside an envelope rejects only itself; its ``source`` gets
    ``#index`` appended so it can be found again.
    """
    if max_bytes and len(raw) > max_bytes:
        detail = f"message of {len(raw)} bytes exceeds the limit of {max_bytes}"
        return [Rejection(reason="oversize", detail=detail, raw=_text(raw[:1024]), source=source)]
    if raw[:1].isspace():
        raw = raw.lstrip()
    if not raw.startswith(b"["):
        return [decode_event(raw, source)]
    try:
        return list(_envelope_decoder.decode(raw))
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        return [Rejection(reason="not_json", detail=str(exc), raw=_text(raw), source=source)]
    parts = _raw_list_decoder.decode(raw)
    return [decode_event(bytes(part), f"{source}#{i}") for i, part in enumerate(parts)]


def encode(obj: Event | Verdict | Rejection | list) -> bytes:
    """JSON bytes of a model or a list of them (an envelope)."""
    return _encoder.encode(obj)


def event_schema() -> dict:
    """JSON schema of the event format, for the README and for other tools."""
    return msgspec.json.schema(Event)


def verdict_schema() -> dict:
    """JSON schema of the verdict format."""
    return msgspec.json.schema(Verdict)
