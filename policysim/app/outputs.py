"""Checking where a command will write before it starts, so a wrong ``--out`` costs nothing.

A folder given where a file is wanted (or the reverse), or a path in a folder
that does not exist, is refused with a sentence naming the path before any
work is done, instead of failing with a traceback at the end. A parent
folder is never created on the fly: a typo would silently become a stray
directory tree. ``-`` (standard output) is always fine.
"""

from __future__ import annotations

from pathlib import Path

from policysim.app.errors import OutputError

STDOUT = "-"


def output_file(path: str | Path, flag: str = "--out") -> Path:
    """A file about to be written: not a folder, in a folder that exists."""
    target = Path(path)
    if str(path) == STDOUT:
        return target
    if target.is_dir():
        raise OutputError(f"{flag} {target} is a folder; give a file name")
    _check_parent(target, flag)
    return target


def output_folder(path: str | Path, flag: str = "--out", create: bool = True) -> Path:
    """A folder about to be written into: created if missing, inside a folder that exists.

    ``create=False`` only checks, for a command that has more to check first.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OutputError(f"{flag} {target} is a file; give a folder (it is created if missing)")
    if not target.exists():
        _check_parent(target, flag)
    if not create:
        return target
    try:
        target.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{flag} {target}: cannot create the folder: {exc.strerror}") from exc
    return target


def _check_parent(target: Path, flag: str) -> None:
    """The folder ``target`` goes into must be there already."""
    folder = target.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"{flag} {target}: the folder {folder} {what}")
