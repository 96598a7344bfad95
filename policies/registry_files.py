"""Registry files: CSV (one row per prefix) and JSON lines (one record per line).

Loading goes through :meth:`Registry.apply`, record by record, so a file and
the ``registrations`` topic are validated by the same code. A bad row is a
``FILE:LINE: reason`` problem and the rest still loads (unless strict).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from policysim.policies.registry import Registry, RegistryError, RegistryRecord
from policysim.policies.sources import SourceError, SourceProblem, read_text

CSV_COLUMNS = ("entity_id", "name", "category", "prefix", "registered_at", "expires_at")
CSV_OPTIONAL = ("revoked_at",)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")

_record_decoder = msgspec.json.Decoder(RegistryRecord)
_record_encoder = msgspec.json.Encoder()


def load_registry(path: str | os.PathLike[str], strict: bool = False) -> Registry:
    """Load a ``.csv`` or JSON-lines registry; problems (``FILE:LINE: reason``) go to
    ``.problems``, or raise :class:`RegistryError` with all of them when ``strict``."""
    name = os.fspath(path)
    try:
        text = read_text(path)
    except SourceError as exc:
        raise RegistryError(exc.problems) from exc
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        rows = _csv_records(name, text)
    elif suffix in JSONL_SUFFIXES:
        rows = _jsonl_records(name, text)
    else:
        raise RegistryError([SourceProblem(name, 0, "registry must be .csv or .jsonl")])
    registry = Registry()
    problems: list[SourceProblem] = []
    with registry.bulk():
        for line, record in rows:
            if isinstance(record, str):
                problems.append(SourceProblem(name, line, record))
                continue
            try:
                registry.apply(record)
            except ValueError as exc:
                problems.append(SourceProblem(name, line, str(exc)))
    if strict and problems:
        raise RegistryError(problems)
    registry.problems = problems
    return registry


def _csv_records(name: str, text: str) -> Iterator[tuple[int, RegistryRecord | str]]:
    """Rows as records, or as the reason text when a row is unusable."""
    reader = csv.reader(io.StringIO(text))
    header = [column.strip() for column in next(reader, [])]
    missing = [column for column in CSV_COLUMNS if column not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS and c not in CSV_OPTIONAL]
    if missing or unknown:
        detail = f"missing {missing}" if missing else f"unknown {unknown}"
        raise RegistryError(
            [SourceProblem(name, 1, f"CSV header must be {','.join(CSV_COLUMNS)}: {detail}")]
        )
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield reader.line_num, f"expected {len(header)} columns, got {len(row)}"
            continue
        cells = {column: (cell.strip() or None) for column, cell in zip(header, row, strict=True)}
        if cells["prefix"] is None:
            yield reader.line_num, "empty prefix"
            continue
        yield (
            reader.line_num,
            RegistryRecord(
                entity_id=cells["entity_id"] or "",
                name=cells["name"],
                category=cells["category"],
                prefixes=[cells["prefix"]],
                registered_at=cells["registered_at"],
                expires_at=cells["expires_at"],
                revoked_at=cells.get("revoked_at"),
            ),
        )


def _jsonl_records(name: str, text: str) -> Iterator[tuple[int, RegistryRecord | str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, _record_decoder.decode(line)
        except msgspec.DecodeError as exc:
            yield number, f"bad record: {exc}"


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
