"""Capture -> scale -> encode, the fast path from the Desktop's pixels to bytes for a model.

    frame = capture_frame(desktop, size=(1280, 720), fmt="jpeg")
    frame.encoded.data, frame.encoded.media_type, frame.scale  # image = screen * scale

Speed (1920x1080 -> 1280x720, see BENCHMARKS.md): the Desktop grab dominates; scaling does an exact
integer `Image.reduce` first, then Pillow's LANCZOS for the remaining factor (antialiased and sharp,
so thin strokes stay legible: bench/legibility.py); JPEG q80 costs ~4 ms where PNG
level 1 and WebP method 0 cost ~16 ms.

`fingerprint(image)` is the cheap frame hash used for dedup and by `settle`; `frame_hash(image)` is
the exact one (recordings).
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from actions.desktop.base import Desktop, Screenshot
from actions.errors import UsageError
from actions.models import Box
from agent.perception.scaling import ImageSpace, resize

log = logging.getLogger(__name__)

ImageFormat = Literal["jpeg", "png", "webp"]
MEDIA_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
FINGERPRINT_REDUCE = 8


@dataclass(frozen=True)
class EncodedImage:
    """Bytes ready for a model API."""

    data: bytes
    media_type: str
    size: tuple[int, int]


@dataclass(frozen=True)
class Frame:
    """One capture, its scaled copy and the encoded bytes. `scale` = image px / screen px."""

    screenshot: Screenshot
    image: Image.Image
    encoded: EncodedImage
    scale: float
    timings_ms: dict[str, float]

    @property
    def space(self) -> ImageSpace:
        """The image <-> screen mapping of `image` (see agent.perception.scaling)."""
        shot = self.screenshot
        region = Box(left=shot.left, top=shot.top, right=shot.left + shot.image.width,
                     bottom=shot.top + shot.image.height)
        return ImageSpace.scaled(region, self.image.size)


def fit_size(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """The largest size with `size`'s aspect ratio that fits in `target` (never upscales)."""
    w, h = size
    factor = min(target[0] / w, target[1] / h, 1.0)
    return max(1, round(w * factor)), max(1, round(h * factor))


def scale_image(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Downscale `image` to exactly `size` (see `agent.perception.scaling.resize`)."""
    return resize(image, size)


def encode_image(image: Image.Image, fmt: ImageFormat = "jpeg", quality: int = 80) -> EncodedImage:
    """Encode for a model: JPEG (fastest), PNG at level 1 (lossless), WebP method 0 (smallest)."""
    buf = io.BytesIO()
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    match fmt:
        case "jpeg":
            image.save(buf, "JPEG", quality=quality)
        case "png":
            image.save(buf, "PNG", compress_level=1)
        case "webp":
            image.save(buf, "WEBP", quality=quality, method=0)
        case _:
            raise UsageError(f"unknown image format {fmt!r}: use jpeg, png or webp")
    return EncodedImage(data=buf.getvalue(), media_type=MEDIA_TYPES[fmt], size=image.size)


def capture_frame(desktop: Desktop, size: tuple[int, int] | None = (1280, 720), fmt: ImageFormat = "jpeg",
                  quality: int = 80, monitor: int | None = None) -> Frame:
    """Capture through the Desktop, scale to fit `size` (aspect kept; None = full size), encode."""
    t0 = time.perf_counter()
    shot = desktop.capture(monitor)
    t1 = time.perf_counter()
    target = fit_size(shot.image.size, size) if size else shot.image.size
    image = scale_image(shot.image, target)
    t2 = time.perf_counter()
    encoded = encode_image(image, fmt, quality)
    t3 = time.perf_counter()
    timings = {"capture": (t1 - t0) * 1000, "scale": (t2 - t1) * 1000, "encode": (t3 - t2) * 1000}
    log.debug("frame %sx%s -> %sx%s %s %d bytes %s", *shot.image.size, *image.size, fmt,
              len(encoded.data), timings)
    return Frame(screenshot=shot, image=image, encoded=encoded, scale=image.width / shot.image.width,
                 timings_ms=timings)


def thumbnail(image: Image.Image, factor: int = FINGERPRINT_REDUCE) -> Image.Image:
    """A box-averaged small copy; any visible change of a few pixels changes it."""
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    return image.reduce(factor) if min(image.size) >= factor else image


def fingerprint(image: Image.Image) -> str:
    """A cheap hash of a frame (~2 ms at 1920x1080): equal frames have equal fingerprints and a
    changed frame almost surely does not (box-averaged 8x8 blocks, so a one-pixel change shows)."""
    thumb = thumbnail(image)
    return hashlib.blake2b(thumb.tobytes(), digest_size=8).hexdigest()


def frame_hash(image: Image.Image) -> str:
    """An exact content hash (size, mode and every pixel), for storing identical frames once."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{image.mode}{image.size}".encode())
    h.update(image.tobytes())
    return h.hexdigest()

