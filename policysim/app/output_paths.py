"""Checking where a command will write before it does any work.

Opening a file in a folder that does not exist fails only once the work is
done, and creating the folder silently turns a typo into a stray directory,
so every file a command writes is checked first: its folder must exist and
the path must not be a folder itself. ``-`` (standard output) is always fine.
"""

from __future__ import annotations

from pathlib import Path

from policysim.app.errors import BadInput

STDOUT = "-"


def output_file(path: str, flag: str) -> str:
    """``path`` if a file can be written there, else BadInput naming the flag and the folder."""
    if path == STDOUT:
        return path
    target = Path(path)
    if target.is_dir():
        raise BadInput(f"{flag} {path} is a folder; give a file name")
    folder = target.parent
    if not folder.is_dir():
        raise BadInput(f"{flag} {path}: the folder {folder} does not exist")
    return path


def output_folder(path: str | Path, flag: str) -> Path:
    """``path`` as a folder, created if only it is missing; BadInput if its parent is missing."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise BadInput(f"{flag} {path} is a file; give a folder")
    if not target.parent.is_dir():
        raise BadInput(f"{flag} {path}: the folder {target.parent} does not exist")
    target.mkdir(exist_ok=True)
    return target
