"""Reading a recording's files as untrusted input: names, containment, file types.

A recording is a folder anyone can hand over, so nothing in it is trusted to name a file:

- frame names must be the writer's own (`<20 hex>.png` / `.webp`, a content hash, see
  `agent.recording.writer.image_digest`), crop hashes `<20 hex>` (stored as `crops/<hash>.png`);
  `safe_frame_name` / `safe_crop_hash` say whether a recorded name is one.
- `open_inside` opens a file only if its resolved path (symlinks followed) stays inside the
  recording folder and it is a regular file: a symlink out of the folder, a FIFO (which would block
  the reader) or a device is refused with `UnsafeRecording` before anything is opened.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

from actions.errors import UnsafeRecording

FRAME_NAME = re.compile(r"[0-9a-f]{20}\.(?:png|webp)")
CROP_HASH = re.compile(r"[0-9a-f]{20}")


def safe_frame_name(name: str) -> bool:
    return FRAME_NAME.fullmatch(name) is not None


def safe_crop_hash(crop_hash: str) -> bool:
    return CROP_HASH.fullmatch(crop_hash) is not None


def shown(name: str, limit: int = 60) -> str:
    """A recorded name as a warning shows it: quoted, escaped, cut short."""
    return repr(name if len(name) <= limit else name[:limit] + "...")


def inside(folder: Path, *parts: str) -> Path:
    """The resolved path of `folder/parts...`, or UnsafeRecording if it leaves the folder."""
    root = folder.resolve()
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root):
        raise UnsafeRecording(f"{'/'.join(parts)} leads outside the recording {folder}: refused, not opened")
    return path


def open_inside(folder: Path, *parts: str) -> BinaryIO:
    """Open `folder/parts...` for reading if it stays inside `folder` and is a regular file.

    FileNotFoundError if it does not exist; UnsafeRecording if it leaves the folder or is not a
    regular file (checked before opening, and again on the open descriptor)."""
    path = inside(folder, *parts)
    if not stat.S_ISREG(path.stat().st_mode):
        raise UnsafeRecording(f"{'/'.join(parts)} in {folder} is not a regular file: refused, not opened")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between the check and the open
        os.close(fd)
        raise UnsafeRecording(f"{'/'.join(parts)} in {folder} is not a regular file: refused")
    return os.fdopen(fd, "rb")
