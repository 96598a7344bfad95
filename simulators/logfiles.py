"""Read connection logs (Zeek TSV or JSON, our JSON lines, CSV) as events or rejections.

Every data line of the input comes out as exactly one item: an :class:`Event`
or a :class:`Rejection` whose ``source`` is ``FILE:LINE``, so a caller can
count read = events + rejects and write the rejects somewhere. Header and
comment lines (``#...``) and blank lines are not data and yield nothing.

Each format is turned into the JSON of our event format and decoded by
:func:`policysim.policies.model.decode_event`, so every source is validated by the same
rules and rejected with the same reason vocabulary.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from policysim.policies.model import Event, Rejection, decode_event, internal_error

FORMATS: tuple[str, ...] = ("auto", "zeek", "jsonl", "csv")

ReadItem = tuple[int, Event | Rejection]

# Zeek conn.log column -> event field.
ZEEK_FIELDS: dict[str, str] = {
    "uid": "id",
    "ts": "ts",
    "id.orig_h": "src",
    "id.orig_p": "sport",
    "id.resp_h": "dst",
    "id.resp_p": "dport",
    "proto": "proto",
    "service": "app",
    "orig_bytes": "bytes_out",
    "resp_bytes": "bytes_in",
    "duration": "duration",
}

# Event fields a CSV may carry, and the identity mapping used when none is given.
CSV_FIELDS: tuple[str, ...] = (
    "id",
    "ts",
    "src",
    "sport",
    "dst",
    "dport",
    "proto",
    "app",
    "bytes_out",
    "bytes_in",
    "duration",
)

_CSV_REQUIRED = ("ts", "src", "sport", "dst", "dport", "proto")
_INT_FIELDS = frozenset({"sport", "dport", "bytes_out", "bytes_in"})
_FLOAT_FIELDS = frozenset({"ts", "duration"})
_ZEEK_UNSET = frozenset({"-", "(empty)", ""})


class ReaderError(ValueError):
    """The input as a whole cannot be read (unknown format, bad CSV mapping)."""


def read_events(
    path: str | Path,
    format: str = "auto",
    csv_mapping: Mapping[str, str] | None = None,
) -> Iterator[ReadItem]:
    """Yield ``(line number, event or rejection)`` for every data line of ``path``.

    ``format`` is ``auto`` (sniffed from the first data line), ``zeek`` (TSV
    with a ``#fields`` header, or Zeek's JSON lines), ``jsonl`` (our format;
    Zeek JSON lines are recognised line by line) or ``csv`` (a header row;
    ``csv_mapping`` maps event field -> CSV column, defaulting to the field
    names). Gzip input is recognised by its magic bytes, not its name.
    """
    if format not in FORMATS:
        raise ReaderError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    name = str(path)
    try:
        with _open_binary(path) as stream:
            head = stream.peek(4096) if hasattr(stream, "peek") else b""
            kind = _sniff(head) if format == "auto" else format
            if kind == "zeek" and _first_data_line(head).startswith(b"{"):
                kind = "jsonl"
            if kind == "csv":
                text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
                yield from _read_csv(text, name, csv_mapping)
            elif kind == "zeek":
                yield from _read_zeek_tsv(stream, name)
            else:
                yield from _read_json_lines(stream, name)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        # the lines read so far stand; the rest of the file cannot be read at all
        raise ReaderError(f"a damaged gzip file: {exc}") from exc


def parse_csv_mapping(text: str) -> dict[str, str]:
    """Parse ``field=column,field=column`` (the CLI form of ``csv_mapping``)."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        field, sep, column = part.partition("=")
        if not sep or not column.strip():
            raise ReaderError(f"CSV mapping item {part!r} is not FIELD=COLUMN")
        if field.strip() not in CSV_FIELDS:
            raise ReaderError(f"CSV mapping names unknown event field {field.strip()!r}")
        mapping[field.strip()] = column.strip()
    return mapping


def _open_binary(path: str | Path) -> IO[bytes]:
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller's with-block
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return io.BufferedReader(gzip.GzipFile(fileobj=raw))  # type: ignore[arg-type]
    return raw


def _first_data_line(head: bytes) -> bytes:
    for line in head.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(b"#"):
            return stripped
    return b""


def _sniff(head: bytes) -> str:
    if head.lstrip().startswith(b"#separator") or b"\n#fields" in head:
        return "zeek"
    first = _first_data_line(head)
    if first.startswith(b"{"):
        return "jsonl"
    if first:
        return "csv"
    return "jsonl"


def _convert(field: str, value: Any) -> Any:
    """Numbers from text where the field is numeric; text that is not a number stays
    text so that the decoder rejects it with its usual reason."""
    if not isinstance(value, str):
        return value
    try:
        if field in _INT_FIELDS:
            return int(value)
        if field in _FLOAT_FIELDS:
            number = float(value)
            # NaN and infinity stay text, which the decoder rejects with its reason
            return number if math.isfinite(number) else value
    except ValueError:
        return value
    return value


def _decode_mapped(fields: dict[str, Any], raw: str, source: str) -> Event | Rejection:
    try:
        document = orjson.dumps(fields)
    except TypeError as exc:  # a number beyond 64 bits
        return _reject("bad_value", f"not representable as an event: {exc}", raw, source)
    item = decode_event(document, source)
    if isinstance(item, Rejection):
        item.raw = raw
    return item


def _reject(reason: str, detail: str, raw: str, source: str) -> Rejection:
    return Rejection(reason=reason, detail=detail, raw=raw, source=source)


def _safely(
    read: Callable[..., Event | Rejection], raw: bytes | str, source: str, *args: Any
) -> Event | Rejection:
    """``read(*args)``, or an ``internal_error`` rejection: one line never ends the file."""
    try:
        return read(*args)
    except Exception as exc:  # a reader's bug is the line's reject, not the file's end
        return internal_error(exc, raw, source)


def _read_json_lines(stream: IO[bytes], name: str) -> Iterator[ReadItem]:
    for number, line in enumerate(stream, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        source = f"{name}:{number}"
        if b'"id.orig_h"' in stripped or b'"uid"' in stripped:
            yield number, _safely(_zeek_json, stripped, source, stripped, source)
        else:
            yield number, decode_event(stripped, source)


def _zeek_json(line: bytes, source: str) -> Event | Rejection:
    raw = line.decode("utf-8", errors="replace")
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return _reject("not_json", str(exc), raw, source)
    if not isinstance(record, dict):
        return _reject("not_an_event", "a JSON line that is not an object", raw, source)
    nested = record.get("id")
    if isinstance(nested, dict):
        record.update({f"id.{k}": v for k, v in nested.items()})
    fields = {
        event_field: _convert(event_field, record[column])
        for column, event_field in ZEEK_FIELDS.items()
        if column in record and record[column] not in _ZEEK_UNSET and record[column] is not None
    }
    return _decode_mapped(fields, raw, source)


def _unescape_separator(text: str) -> str:
    return text.encode("ascii").decode("unicode_escape") if text.startswith("\\x") else text


def _read_zeek_tsv(stream: IO[bytes], name: str) -> Iterator[ReadItem]:
    separator = "\t"
    unset = {"-", "(empty)"}
    columns: list[tuple[int, str]] | None = None
    width = 0
    for number, line in enumerate(stream, start=1):
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        if not text.strip():
            continue
        if text.startswith("#"):
            key, _, value = text.partition(" " if text.startswith("#separator") else separator)
            if key == "#separator":
                try:
                    separator = _unescape_separator(value.strip()) or separator
                except ValueError as exc:  # the tab stays
                    detail = f"unreadable #separator header: {exc}"
                    yield number, _reject("bad_value", detail, text, f"{name}:{number}")
            elif key in ("#unset_field", "#empty_field"):
                unset.add(value)
            elif key == "#fields":
                header = value.split(separator)
                width = len(header)
                columns = [(i, ZEEK_FIELDS[c]) for i, c in enumerate(header) if c in ZEEK_FIELDS]
            continue
        source = f"{name}:{number}"
        if columns is None:
            detail = "data row before any #fields header"
            yield number, _reject("not_an_event", detail, text, source)
            continue
        cells = text.split(separator)
        if len(cells) != width:
            detail = f"row has {len(cells)} columns, the #fields header has {width}"
            yield number, _reject("bad_value", detail, text, source)
            continue
        yield number, _safely(_zeek_row, text, source, cells, columns, unset, text, source)


def _zeek_row(
    cells: list[str], columns: list[tuple[int, str]], unset: set[str], text: str, source: str
) -> Event | Rejection:
    fields = {f: _convert(f, cells[i]) for i, f in columns if cells[i] not in unset}
    return _decode_mapped(fields, text, source)


def _read_csv(
    text: Iterable[str], name: str, csv_mapping: Mapping[str, str] | None
) -> Iterator[ReadItem]:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    mapping = dict(csv_mapping) if csv_mapping else {f: f for f in CSV_FIELDS if f in header}
    missing = [column for column in mapping.values() if column not in header]
    if missing:
        raise ReaderError(f"{name}: CSV header lacks the mapped column(s) {', '.join(missing)}")
    unmapped = [f for f in _CSV_REQUIRED if f not in mapping]
    if unmapped:
        raise ReaderError(f"{name}: no CSV column for the event field(s) {', '.join(unmapped)}")
    columns = [(header.index(column), field) for field, column in mapping.items()]
    generate_ids = "id" not in mapping
    last = reader.line_num
    while True:
        number = last + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the csv module's size limit
            last = reader.line_num
            yield number, _reject("bad_value", f"unreadable CSV row: {exc}", "", f"{name}:{number}")
            continue
        last = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        source = f"{name}:{number}"
        raw = ",".join(row)
        if len(row) != len(header):
            detail = f"row has {len(row)} columns, the header has {len(header)}"
            yield number, _reject("bad_value", detail, raw, source)
            continue
        yield number, _safely(_csv_row, raw, source, row, columns, generate_ids, raw, source)


def _csv_row(
    row: list[str], columns: list[tuple[int, str]], generate_ids: bool, raw: str, source: str
) -> Event | Rejection:
    fields = {f: _convert(f, row[i]) for i, f in columns if row[i] != ""}
    if generate_ids:
        fields["id"] = source
    return _decode_mapped(fields, raw, source)
