"""Frames and crops of a recording as data URIs for the report, within an image budget.

Each distinct frame is decoded once from the recording (through `format.open_frame`, so only the
format's own names inside the folder are read), downscaled to at most 1280 px wide and JPEG
encoded; when the frames would pass the budget a smaller encoding is chosen (from a sample of
frames for long recordings, so each frame is encoded once), and at the smallest one the frames
past the budget are left out and said.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from actions.errors import UnsafeRecording
from agent import status
from agent.recording.format import FRAMES_DIR, Step, open_crop, open_frame

log = logging.getLogger(__name__)

REPORT_BUDGET = 20_000_000  # bytes of HTML
# (max width, JPEG quality) tried in order until the embedded images fit the budget.
_ENCODINGS = ((1280, 70), (960, 60), (720, 50))
_SAMPLE_ABOVE = 24  # frames: more than this, pick the encoding from a sample
_MAX_PIXELS = 40_000_000  # an 8K screen is 33 Mpx


@dataclass(frozen=True)
class EmbeddedImage:
    css: str          # CSS class that carries the image
    data_uri: str
    width: int        # size of the recorded image (markers are placed against it)
    height: int


def embed_frames(folder: Path, steps: Sequence[Step], missing: set[str], warnings: list[str],
                  budget: int) -> dict[str, EmbeddedImage]:
    """The frames of `steps` as data URIs, at the first encoding that fits `budget`; at the last
    one, frames past the budget (the later steps' first) are left out and said."""
    names = list(dict.fromkeys(f for s in steps for f in s.frames() if f not in missing))
    status.show(f"embedding {len(names)} frame(s) in the report")
    images: dict[str, EmbeddedImage] = {}
    encoded: list[tuple[str, int, int] | str] = []
    encodings = _ENCODINGS if len(names) <= _SAMPLE_ABOVE else (_choose_encoding(folder, names, budget),)
    for width, quality in encodings:
        with ThreadPoolExecutor(max_workers=2) as pool:  # Pillow releases the GIL while coding
            encoded = list(pool.map(partial(_encode_frame, folder, width=width, quality=quality), names))
        images = {n: EmbeddedImage(f"f{i}", *e) for i, (n, e) in enumerate(zip(names, encoded))
                  if not isinstance(e, str)}
        if sum(len(e.data_uri) for e in images.values()) <= budget:
            break
    else:
        total, kept = 0, {}
        for n, e in images.items():
            total += len(e.data_uri)
            if total > budget:
                break
            kept[n] = e
        warnings.append(f"{len(images) - len(kept)} frame(s) were left out of the report to keep it under "
                        f"{REPORT_BUDGET // 1_000_000} MB (they are in {folder / FRAMES_DIR})")
        images = kept
    unreadable = [f"{n} ({e})" for n, e in zip(names, encoded) if isinstance(e, str)]
    if unreadable:
        warnings.append(f"{len(unreadable)} frame(s) could not be read: {', '.join(unreadable[:5])}")
    return images


def _choose_encoding(folder: Path, names: Sequence[str], budget: int) -> tuple[int, int]:
    """The best encoding whose size, estimated from a few frames, lets all of `names` fit `budget`
    (so a long recording's frames are decoded and encoded once, not once per encoding tried)."""
    sample = list(names[:: max(1, len(names) // 6)][:6])
    for width, quality in _ENCODINGS[:-1]:
        sizes = [len(e[0]) for n in sample if not isinstance(e := _encode_frame(folder, n, width, quality), str)]
        if not sizes or sum(sizes) / len(sizes) * len(names) * 1.1 <= budget:
            return width, quality
    return _ENCODINGS[-1]


def embed_crops(folder: Path, steps: Sequence[Step], warnings: list[str]) -> dict[str, EmbeddedImage]:
    hashes = list(dict.fromkeys(c for s in steps for c in s.crops()))
    crops: dict[str, EmbeddedImage] = {}
    refused = []
    for i, h in enumerate(hashes):
        e = _encode(partial(open_crop, folder, h), 256, 85, png=True)
        if isinstance(e, str):
            if "refused" in e:
                refused.append(f"{h} ({e})")
        else:
            crops[h] = EmbeddedImage(f"c{i}", *e)
    if refused:
        warnings.append(f"{len(refused)} crop(s) were refused: {', '.join(refused[:5])}")
    return crops


def _encode_frame(folder: Path, name: str, width: int, quality: int) -> tuple[str, int, int] | str:
    return _encode(partial(open_frame, folder, name), width, quality)


def _encode(opener: Callable[[], BinaryIO], width: int, quality: int,
            png: bool = False) -> tuple[str, int, int] | str:
    """(data URI, original width, original height), or why the file could not be read."""
    try:
        with opener() as f, Image.open(f) as original:
            size = original.size
            if size[0] * size[1] > _MAX_PIXELS:  # decoding it would take hundreds of MB
                return f"{size[0]}x{size[1]} is too large for a screenshot"
            img = original.convert("RGB")
        if img.width > width:
            img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.BOX)  # BOX: 2x faster, fine for downscaling
        buf = io.BytesIO()
        img.save(buf, "PNG" if png else "JPEG", quality=quality)
    except FileNotFoundError:
        return "missing"
    except UnsafeRecording as e:
        log.warning("%s", e)
        return str(e)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as e:
        log.warning("cannot read an image: %s", e)
        return type(e).__name__
    mime = "image/png" if png else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode()}", *size
