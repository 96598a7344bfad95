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

import re
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
    "internal_error",
)

# Event times outside this window (epoch seconds, half open) are ``bad_timestamp``: a
# year like 1e20 is a unit mistake, not an event. Each process sets it once from the settings
# ``earliest_event_year`` and ``latest_event_year`` (:func:`set_time_window`): the command
# line and the worker's own entry do.
_time_window: tuple[float, float] = (0.0, 4133980800.0)  # 1970-01-01 .. 2101-01-01

# C0 and C1 control characters (NUL included): never part of an id or a label.
_CONTROL = re.compile("[\\x00-\\x1f\\x7f-\\x9f]")


def set_time_window(earliest_year: int, latest_year: int) -> None:
    """Accept event times from 1 January of ``earliest_year`` to 31 December of ``latest_year``."""
    from datetime import UTC, datetime

    global _time_window
    start = datetime(earliest_year, 1, 1, tzinfo=UTC).timestamp()
    end = datetime(latest_year + 1, 1, 1, tzinfo=UTC).timestamp()
    _time_window = (start, end)


def time_window() -> tuple[float, float]:
    """The accepted event times as epoch seconds ``[start, end)``."""
    return _time_window


class Truth(msgspec.Struct, omit_defaults=True):
    """Ground truth that simulators attach to an event; rules never read it.

    The fields after ``population_group`` are written only by scenarios that
    model them (a classifier, shared or moving addresses, business need,
    remote staff, approval delays); left out, they mean what the plain model
    assumes, so events of older scenarios keep their exact bytes.
    """

    is_vpn: bool
    entity_id: str | None = None
    category: str | None = None
    registered_at_event_time: bool = False  # the subscriber's entity holds a registration
    population_group: str | None = None
    app: str | None = None  # the true transport, when a classifier's label is the event's app
    business_use: bool | None = None  # a legitimate business need for the VPN (None: unmodelled)
    subscriber_id: str | None = None
    address_registered_at_event_time: bool | None = None  # the source address, by whoever
    shared_by: int | None = None  # subscribers behind the source address (CGNAT); None: one
    address_changed: bool = False  # the address moved since the subscriber's registration
    remote: bool = False  # staff of a registered entity outside its registered block
    registration_pending: bool = False  # the entity has applied and awaits approval

    def label(self) -> str:
        """The confusion-matrix cell: ``vpn_registered``, ``non_vpn_unregistered``, ..."""
        return truth_label(self.is_vpn, self.registered_at_event_time)

    def legitimate(self) -> bool:
        """Whether blocking this traffic harms someone with a right to it.

        Ordinary traffic always is; VPN traffic is when it serves business use,
        or, where a scenario does not model need, when its subscriber is registered.
        """
        if not self.is_vpn:
            return True
        if self.business_use is not None:
            return self.business_use
        return self.registered_at_event_time


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
        start, end = _time_window
        if not start <= self.ts < end:  # NaN fails every comparison
            raise ValueError(f"bad_timestamp: `ts` {self.ts!r} is outside the accepted years")
        if not self.id:
            raise ValueError("bad_value: `id` is empty")
        if not self.proto:
            raise ValueError("bad_value: `proto` is empty")
        # isprintable() is the fast common answer; _check_controls decides the rare rest.
        app = self.app
        if not (self.id.isprintable() and self.proto.isprintable()) or (
            app is not None and not app.isprintable()
        ):
            self._check_controls()
        for name in ("src", "dst"):
            text = getattr(self, name)
            if "%" in text:
                raise ValueError(f"bad_address: `{name}` carries a zone id: {text!r}")
            try:
                parse_ip(text)
            except ValueError:
                raise ValueError(f"bad_address: `{name}` is not an IP address: {text!r}") from None
        # What label() does, spelt out: this runs for every event the worker decodes.
        if not self.proto.islower():
            self.proto = self.proto.lower()
        if self.app is not None and not self.app.islower():
            self.app = self.app.lower()

    def _check_controls(self) -> None:
        """Refuse control characters (a non-breaking space is not printable, yet allowed)."""
        for name in ("id", "proto", "app"):
            text = getattr(self, name)
            if text is not None and _CONTROL.search(text):
                raise ValueError(f"bad_value: `{name}` contains a control character: {text!r}")


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
    """Input that could not become an event, with why and where it came from.

    ``raw`` is the input as text; for input over the size limit only its first
    :data:`HEAD_BYTES`, with the last :data:`TAIL_BYTES` in ``tail``. ``size`` is
    the input's length, ``id`` the event id when one could be read, ``index``
    the position inside an envelope, ``partition`` and ``offset`` the Kafka
    message's: enough to find the input again.
    """

    reason: str
    detail: str
    raw: str = ""
    source: str = ""
    size: int | None = None
    id: str | None = None
    index: int | None = None
    partition: int | None = None
    offset: int | None = None
    tail: str | None = None


def label(text: str) -> str:
    """The form in which ``app`` and ``proto`` values are compared: lower case.

    ``WireGuard`` in a rule and ``wireguard`` from a classifier are the same
    application; events and policy rules both pass their values through here.
    Text already in lower case is returned as it is (not copied), so equal
    labels stay one object and the engine's per-batch vocabularies stay cheap.
    """
    return text if text.islower() else text.lower()


# A rejected input over the size limit keeps this much of its start and of its end.
HEAD_BYTES = 1024
TAIL_BYTES = 256

_event_decoder = msgspec.json.Decoder(Event)
_envelope_decoder = msgspec.json.Decoder(list[Event])
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_encoder = msgspec.json.Encoder()
_string_decoder = msgspec.json.Decoder(str)

# What splits an envelope that is not valid JSON: whole strings (skipped), brackets, commas.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{},]')
_ID = re.compile(rb'"id"\s*:\s*("(?:[^"\\]|\\.){1,256}")')


def _reason_of(error: msgspec.ValidationError) -> tuple[str, str]:
    """Map msgspec's message to one of :data:`REJECT_REASONS` plus the detail text."""
    message = str(error)
    head, sep, rest = message.partition(": ")
    if sep and head in REJECT_REASONS:
        return head, rest
    if message.startswith("Number out of range") and message.endswith("`$.ts`"):
        return "bad_timestamp", message  # 1e400: infinity written as a number
    if message.startswith("Object missing required field"):
        return "missing_field", message
    if message.startswith("Expected `object`"):
        return "not_an_event", message
    if message.startswith("Expected") and ("<=" in message or ">=" in message):
        return "bad_value", message
    if message.startswith("Expected"):
        return "wrong_type", message
    return "bad_value", message


def _text(raw: bytes | str) -> str:
    return raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")


def _readable_id(raw: bytes | str) -> str | None:
    """The event id in input that is not an event, when it can be found."""
    found = _ID.search(raw.encode("utf-8", errors="replace") if isinstance(raw, str) else raw)
    if found is None:
        return None
    try:
        return _string_decoder.decode(found.group(1))
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def internal_error(exc: BaseException, raw: bytes | str, source: str = "") -> Rejection:
    """A rejection for a failure nobody foresaw, named by its class and message."""
    text = _text(raw[:HEAD_BYTES]) if isinstance(raw, bytes | str) else repr(raw)[:HEAD_BYTES]
    size = len(raw) if isinstance(raw, bytes | str) else None
    detail = f"{type(exc).__name__}: {exc}"
    return Rejection(reason="internal_error", detail=detail, raw=text, source=source, size=size)


def oversize(raw: bytes, source: str, max_bytes: int) -> Rejection:
    """An input over ``max_bytes``: its size, id, first and last bytes, not all of it."""
    return Rejection(
        reason="oversize",
        detail=f"{len(raw)} bytes exceed the limit of {max_bytes}",
        raw=_text(raw[:HEAD_BYTES]),
        tail=_text(raw[-TAIL_BYTES:]),
        size=len(raw),
        id=_readable_id(raw),
        source=source,
    )


def decode_event(raw: bytes | str, source: str = "") -> Event | Rejection:
    """Decode one JSON object into an :class:`Event`, or say why not; never raises."""
    try:
        return _event_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        reason, detail = _reason_of(exc)
    except msgspec.DecodeError as exc:
        reason, detail = "not_json", str(exc)
    except UnicodeDecodeError as exc:
        reason, detail = "not_json", f"not UTF-8: {exc.reason} at byte {exc.start} of a string"
    except RecursionError:
        reason, detail = "not_json", "nested too deeply to be an event"
    except Exception as exc:  # a bad line must never end the input
        return internal_error(exc, raw, source)
    return Rejection(
        reason=reason,
        detail=detail,
        raw=_text(raw),
        source=source,
        size=len(raw),
        id=_readable_id(raw),
    )


def decode_message(raw: bytes, source: str = "", max_bytes: int = 0) -> list[Event | Rejection]:
    """Decode a Kafka message: one event object, or an envelope (a JSON array) of them.

    Never raises, and never returns an empty list: every message is at least
    one item to count. An envelope is split into its items first, so a bad or
    oversized item rejects only itself, with its ``index`` (and ``#index``
    appended to its ``source``); an empty envelope is one ``not_an_event``.
    ``max_bytes`` applies to each event, not to the envelope.
    """
    try:
        if not raw:
            return [Rejection(reason="not_json", detail="an empty message", source=source, size=0)]
        if raw[:1].isspace():
            raw = raw.lstrip()
        if not raw.startswith(b"["):
            if max_bytes and len(raw) > max_bytes:
                return [oversize(raw, source, max_bytes)]
            return [decode_event(raw, source)]
        if not max_bytes or len(raw) <= max_bytes:
            try:
                events = _envelope_decoder.decode(raw)
            except Exception:  # the item by item path says what was wrong
                events = None
            if events:
                return events
        return _decode_items(raw, source, max_bytes)
    except Exception as exc:  # the last line of defence of the stream
        return [internal_error(exc, raw, source)]


def _decode_items(raw: bytes, source: str, max_bytes: int) -> list[Event | Rejection]:
    """An envelope item by item: each an event or a rejection carrying its index."""
    try:
        parts = [bytes(part) for part in _raw_list_decoder.decode(raw)]
    except Exception:  # not JSON as a whole: split it at its own commas
        parts = split_envelope(raw)
    if not parts:
        detail = "an envelope with no events"
        return [
            Rejection(
                reason="not_an_event",
                detail=detail,
                raw=_text(raw[:HEAD_BYTES]),
                source=source,
                size=len(raw),
            )
        ]
    items: list[Event | Rejection] = []
    for index, part in enumerate(parts):
        where = f"{source}#{index}"
        if max_bytes and len(part) > max_bytes:
            item = oversize(part, where, max_bytes)
        else:
            item = decode_event(part, where)
        if isinstance(item, Rejection):
            item.index = index
        items.append(item)
    return items


def split_envelope(raw: bytes) -> list[bytes]:
    """The top-level items of a JSON array that may be broken anywhere.

    Commas at depth one separate items; strings are skipped whole. An array
    never closed ends at the end of the input; text after its closing bracket
    is one more item (which then fails to decode), so nothing is dropped.
    """
    parts: list[bytes] = []
    depth, start, rest = 0, 1, b""
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token[:1] == b'"':
            continue
        if token == b"[" or token == b"{":
            depth += 1
        elif token == b"]" or token == b"}":
            depth -= 1
            if depth == 0:
                parts.append(raw[start : match.start()])
                rest = raw[match.end() :]
                break
        elif depth == 1:
            parts.append(raw[start : match.start()])
            start = match.end()
    else:
        parts.append(raw[start:])
    parts = [part.strip() for part in parts]
    if parts == [b""]:
        parts = []
    if rest.strip():
        parts.append(rest.strip())
    return parts


def encode(obj: Event | Verdict | Rejection | list) -> bytes:
    """JSON bytes of a model or a list of them (an envelope)."""
    return _encoder.encode(obj)


def event_schema() -> dict:
    """JSON schema of the event format, for the README and for other tools."""
    return msgspec.json.schema(Event)


def verdict_schema() -> dict:
    """JSON schema of the verdict format."""
    return msgspec.json.schema(Verdict)
