"""``policysim replay``: a recorded log (Zeek, JSON lines, CSV) to a file or a Kafka topic.

Rejected lines never disappear and never land in the current folder unasked:
they go to ``--rejects FILE``; without it beside ``--out`` (``OUT.rejects.jsonl``);
when sending to Kafka, into the system's temp folder. The file is created only
when a line is rejected, and the summary names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from policysim.app.errors import BadInput
from policysim.app.outputs import output_file
from policysim.app.sending import SinkChoice, open_chosen_sink, send_events
from policysim.base.settings import Settings
from policysim.simulators.pacing import Item, PumpResult
from policysim.simulators.replay import ReplayCounts, ReplayOptions


@dataclass(frozen=True)
class ReplayRequest:
    """What ``policysim replay`` was asked for."""

    file: str
    log_format: str
    csv_map: str | None
    speed: float
    rate: float | None
    loops: int
    start: str | None
    rejects: str | None
    sink: SinkChoice


@dataclass
class ReplayResult:
    """Lines read and rejected, events sent, and where the rejected lines went."""

    counts: ReplayCounts
    sent: PumpResult
    rejects_path: Path


def _options(request: ReplayRequest) -> ReplayOptions:
    from policysim.policies.timestamps import parse_timestamp

    if request.speed < 0:
        raise BadInput(f"--speed {request.speed:g}: 0 (as fast as possible) or more")
    if request.rate is not None and request.rate <= 0:
        raise BadInput(f"--rate {request.rate:g}: events per second must be more than 0")
    if request.loops < 1:
        raise BadInput(f"--loop {request.loops}: replay at least once")
    try:
        start = parse_timestamp(request.start) if request.start else None
    except ValueError as exc:
        raise BadInput(f"--start {request.start}: not an ISO 8601 time with an offset") from exc
    return ReplayOptions(speed=request.speed, rate=request.rate, loops=request.loops, start=start)


def _readable(path: str) -> str:
    try:
        with open(path, "rb"):
            return path
    except IsADirectoryError as exc:
        raise BadInput(f"{path} is a folder; give a log file") from exc
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from exc


def _read_errors_as_bad_input(items: Iterator[Item], path: str) -> Iterator[Item]:
    """The log's items; a file that turns out unreadable midway is BadInput naming it."""
    from policysim.simulators.logfiles import ReaderError

    try:
        yield from items
    except (ReaderError, OSError) as exc:
        raise BadInput(f"{path}: {exc}") from exc


def replay(settings: Settings, request: ReplayRequest) -> ReplayResult:
    """Check the flags, then send the log's events and write its rejected lines."""
    from policysim.simulators.logfiles import ReaderError, parse_csv_mapping
    from policysim.simulators.rejects import RejectsFile, default_rejects_path
    from policysim.simulators.replay import replay_items

    options = _options(request)
    _readable(request.file)
    try:
        mapping = parse_csv_mapping(request.csv_map) if request.csv_map else None
    except ReaderError as exc:
        raise BadInput(f"--csv-map: {exc}") from exc
    rejects_path = Path(
        output_file(request.rejects, "--rejects")
        if request.rejects
        else default_rejects_path(request.sink.out, request.file)
    )
    sink = open_chosen_sink(settings, request.sink)
    counts = ReplayCounts()
    with RejectsFile(rejects_path) as rejects:
        items = replay_items(
            request.file, options, counts, rejects.write, request.log_format, mapping
        )
        sent = send_events(
            _read_errors_as_bad_input(items, request.file),
            sink,
            total=None,
            target_rate=request.rate,
            show_progress=request.sink.progress,
            description=f"replay {request.file}",
        )
    return ReplayResult(counts, sent, rejects_path)
