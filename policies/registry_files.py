"""Registry files: CSV (one row per prefix), JSON lines (one record per line), snapshots.

Loading goes through :meth:`Registry.apply`, record by record, so a file and
the ``registrations`` topic are validated by the same code; a plain CSV file
(every row valid, no quotes) is read in bulk into the registry's columns
instead (:mod:`~policysim.policies.registry_columns`), to the same registry. A bad row is a
``FILE:LINE:COLUMN: reason`` problem (the column of the field at fault where it
can be told, else just the line) and the rest still loads; with ``strict`` the
file is refused with every problem listed. Which one a command wants is the
command's decision (strict unless asked to skip bad rows). A registry snapshot
(:mod:`~policysim.policies.registry_snapshot`, told by its content) is accepted
wherever a registry file is.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from policysim.policies import registry_columns, registry_snapshot
from policysim.policies.ipset_file import SnapshotError
from policysim.policies.problems import Position, Problem, ProblemError, read_text, suggest
from policysim.policies.registry import RecordError, Registry, RegistryError, RegistryRecord

CSV_COLUMNS = ("entity_id", "name", "category", "prefix", "registered_at", "expires_at")
CSV_OPTIONAL = ("revoked_at",)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")

_record_decoder = msgspec.json.Decoder(RegistryRecord)
_record_encoder = msgspec.json.Encoder()
_JSON_MISSING = re.compile(r"Object missing required field `(\w+)`")
_JSON_BYTE = re.compile(r"\(byte (\d+)\)")


@dataclass(frozen=True, slots=True)
class _Row:
    """A data line's record, with what finds the column where a record field stands on the
    line: only a refused record needs it, so a clean file never pays for it."""

    line: int
    record: RegistryRecord
    text: str
    locate: Callable[[str], dict[str, int]]

    def column(self, field: str) -> int:
        """The column (from 1) where ``field`` stands on the line, 0 when it cannot be told."""
        return self.locate(self.text).get(field, 0)


def load_registry(path: str | os.PathLike[str], strict: bool = False) -> Registry:
    """Load a ``.csv``, JSON-lines or snapshot registry.

    Unusable rows become ``FILE:LINE:COLUMN`` problems in ``.problems`` and the
    rest loads; with ``strict`` a :class:`RegistryError` lists every problem and
    nothing loads. A file that cannot be read or has a wrong CSV header is
    always refused.
    """
    name = os.fspath(path)
    suffix = Path(name).suffix.lower()
    if suffix == registry_snapshot.SUFFIX or registry_snapshot.is_snapshot(name):
        return _load_snapshot(name)
    try:
        text = read_text(name)
    except ProblemError as exc:
        raise RegistryError(exc.problems) from None
    if suffix == ".csv":
        bulk = _plain_csv(text)
        if bulk is not None:
            return bulk
        rows = _csv_rows(name, text)
    elif suffix in JSONL_SUFFIXES:
        rows = _jsonl_rows(name, text)
    else:
        message = (
            "a registry file must end in .csv or .jsonl (JSON lines) or be a snapshot from"
            f" policysim registry compile, not {suffix or 'nothing'}"
        )
        raise RegistryError([Problem(Position(name), message)])
    registry = Registry()
    problems: list[Problem] = []
    with registry.bulk():
        for row in rows:
            if isinstance(row, Problem):
                problems.append(row)
                continue
            try:
                registry.apply(row.record)
            except RecordError as exc:
                column = row.column(exc.field) if exc.field else 0
                problems.append(Problem(Position(name, row.line, column), str(exc)))
    if strict and problems:
        raise RegistryError(problems)
    registry.problems = problems
    return registry


def _load_snapshot(name: str) -> Registry:
    """A registry snapshot, refused whole with one sentence when it is damaged."""
    try:
        return registry_snapshot.load(name)
    except OSError as exc:
        message = f"cannot read the registry snapshot: {exc.strerror}"
    except (SnapshotError, ValueError) as exc:
        message = (
            f"registry snapshot refused: {exc}; compile it again with policysim registry compile"
        )
    raise RegistryError([Problem(Position(name), message)])


def _plain_csv(text: str) -> Registry | None:
    """A plain CSV file read in bulk (:mod:`~policysim.policies.registry_columns`); None
    for any other (a quote, a lone carriage return, a header with a problem, a row the record
    path must judge), which the record path reads row by row, naming every problem."""
    if '"' in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:  # a carriage return not ending a line
            return None
    first, _, body = text.partition("\n")  # where the csv module breaks lines too
    header = [column.strip() for column in first.split(",")]
    allowed = CSV_COLUMNS + CSV_OPTIONAL
    if any(column not in allowed for column in header) or not set(CSV_COLUMNS) <= set(header):
        return None
    columns = registry_columns.plain_columns(body, header)
    if columns is None:
        return None
    return registry_columns.build(columns, len(columns[header[0]]))


def _csv_rows(name: str, text: str) -> Iterator[_Row | Problem]:
    """Each data row as a record, or the problem that keeps it from being one."""
    lines = text.splitlines()
    reader = csv.reader(io.StringIO(text))
    rows = _readable_rows(name, reader)
    first = next(rows, [])
    if isinstance(first, Problem):
        raise RegistryError([first])
    header = [column.strip() for column in first]
    _check_header(name, header, lines[0] if lines else "")
    last = reader.line_num
    where = {column: at for at, column in enumerate(header)}  # a repeated column: the last
    required = [where[column] for column in CSV_COLUMNS]
    revoked_at = where.get("revoked_at")

    def locate(line: str) -> dict[str, int]:
        starts = _field_columns(line)
        return {
            ("prefixes" if column == "prefix" else column): start
            for column, start in zip(header, starts, strict=False)
        }

    for row in rows:
        number, last = last + 1, reader.line_num
        if isinstance(row, Problem):
            yield row
            continue
        if not "".join(row).strip():
            continue
        line = lines[number - 1] if number <= len(lines) else ""
        if len(row) != len(header):
            message = (
                f"this row has {len(row)} fields but the header has {len(header)}"
                f" ({','.join(header)}): a field is missing or there is a comma too many"
            )
            yield Problem(Position(name, number), message)
            continue
        entity_id, name_, category, prefix, registered, expires = (
            row[at].strip() or None for at in required
        )
        if prefix is None:
            message = "the prefix is empty: each row registers one address or CIDR prefix"
            yield Problem(Position(name, number, locate(line)["prefixes"]), message)
            continue
        record = RegistryRecord(
            entity_id=entity_id or "",
            name=name_,
            category=category,
            prefixes=[prefix],
            registered_at=registered,
            expires_at=expires,
            revoked_at=None if revoked_at is None else row[revoked_at].strip() or None,
        )
        yield _Row(number, record, line, locate)


def _readable_rows(name: str, reader: Any) -> Iterator[list[str] | Problem]:
    """The CSV reader's rows; a row the csv module cannot split (a bare carriage return in an
    unquoted field, say) is a problem at its line, and reading goes on after it."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Problem(Position(name, reader.line_num), f"not a readable CSV row: {exc}")
            continue
        yield row


def _check_header(name: str, header: list[str], line: str) -> None:
    """Refuse a header that lacks a column or names one we do not know, every problem listed."""
    allowed = CSV_COLUMNS + CSV_OPTIONAL
    problems = [
        Problem(Position(name, 1, start), f"unknown column {column!r} {suggest(column, allowed)}")
        for column, start in zip(header, _field_columns(line), strict=False)
        if column not in allowed
    ]
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        message = (
            f"the header lacks the column(s) {', '.join(missing)}: a registry CSV starts with"
            f" the line {','.join(CSV_COLUMNS)} (a revoked_at column may follow)"
        )
        problems.append(Problem(Position(name, 1), message))
    if problems:
        raise RegistryError(problems)


def _field_columns(line: str) -> list[int]:
    """The column (from 1) where each comma-separated field of ``line`` starts, quotes obeyed."""
    starts = [1]
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            starts.append(index + 2)
    return starts


def _jsonl_rows(name: str, text: str) -> Iterator[_Row | Problem]:
    """Each line as a record, or the problem that keeps it from being one."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield _Row(number, _record_decoder.decode(line), line, _json_columns)
        except msgspec.ValidationError as exc:
            message, field = _explain_validation(str(exc))
            column = _json_columns(line).get(field, 0) if field else 0
            yield Problem(Position(name, number, column), message)
        except msgspec.DecodeError as exc:
            found = _JSON_BYTE.search(str(exc))
            column = int(found.group(1)) + 1 if found else 0
            message = f"this line is not valid JSON: {exc}"
            yield Problem(Position(name, number, column), message)


def _json_columns(line: str) -> dict[str, int]:
    """The column where each record field's key stands on a JSON line."""
    return {
        field: line.find(f'"{field}"') + 1
        for field in RegistryRecord.__struct_fields__
        if f'"{field}"' in line
    }


def _explain_validation(message: str) -> tuple[str, str | None]:
    """msgspec's complaint about a record as a sentence, and the record field it is about."""
    missing = _JSON_MISSING.match(message)
    if missing:
        return f"the record lacks {missing[1]}, which every record needs", None
    text, _, where = message.partition(" - at `$.")
    field = re.split(r"[.\[`]", where, maxsplit=1)[0] if where else None
    text = text[:1].lower() + text[1:]
    if field is None:
        return f"each line must be one registry record (a JSON object): {text}", None
    return f"{field}: {text}", field


def write_csv(registry: Registry, path: str | os.PathLike[str]) -> None:
    """One row per prefix; an entity-wide revocation is folded into each row's end time.

    The CSV format has no revocation rows, so a revoked grant is written
    with ``expires_at`` = the moment it stopped holding, which answers every
    as-of-time question the same way.
    """
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for entity_id, name, grant in registry.grants():
            if grant.until <= grant.start:
                continue  # revoked before it began: it never holds, and CSV cannot say so
            registered, expires, _ = grant.raw
            if grant.until != grant.expires:
                expires = _iso(grant.until)
            for_row = (entity_id, name, grant.category, grant.prefix, registered, expires)
            writer.writerow(["" if cell is None else cell for cell in for_row])


def write_jsonl(registry: Registry, path: str | os.PathLike[str]) -> None:
    """Records as :meth:`Registry.records` gives them (revocations stay records)."""
    with open(path, "wb") as handle:
        for record in registry.records():
            handle.write(encode_record(record) + b"\n")


def encode_record(record: RegistryRecord) -> bytes:
    """A record as one JSON line's bytes: the JSON-lines file format and the topic's messages."""
    return _record_encoder.encode(record)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()
