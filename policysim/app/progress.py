"""The progress bar of long work: one look for every command that sends or reads events."""

from __future__ import annotations

from typing import Any


def event_progress(console: Any, *, disable: bool = False, remaining: bool = False) -> Any:
    """A rich Progress on ``console`` (stderr): description, bar, done/total, elapsed time.

    ``remaining`` adds the time left, for work whose total is known up front.
    Nothing else may print on that console while the bar is shown, so the
    per-second figures of a run are logged at DEBUG, not beside the bar.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns: list[Any] = [
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    if remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, disable=disable)
