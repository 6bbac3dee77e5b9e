"""Image space <-> screen space, for every convention the planners use.

A model sees an image of a screen region, usually scaled down. `ImageSpace` records that
mapping; the functions here convert points and boxes both ways, one tested pure function per
convention:

    pixels    absolute pixels of the (scaled) image          Anthropic, OpenAI CUA, Qwen2.5-VL, UI-TARS-1.5
    grid1000  0..1000 relative grid                          InternVL2.5 boxes, UI-TARS v1
    fraction  0..1 relative                                  some Gemini/OpenAI-compatible prompts

Sizes: `fit_xga` (the Anthropic demo's XGA/WXGA/FWXGA targets by aspect ratio),
`fit_max_pixels` (a pixel budget), `smart_resize` (Qwen/UI-TARS: multiples of 28).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict

from actions.models import Box, Point

Convention = Literal["pixels", "grid1000", "fraction"]

XGA_TARGETS: tuple[tuple[int, int], ...] = ((1024, 768), (1280, 800), (1366, 768))


class ImageSpace(BaseModel):
    """An image of `width` x `height` showing the screen region `region` (screen space), scaled to
    fill it but for `pad` (black columns on the right, rows at the bottom, that show nothing)."""

    model_config = ConfigDict(frozen=True)
    region: Box
    width: int
    height: int
    pad: tuple[int, int] = (0, 0)

    @classmethod
    def identity(cls, width: int, height: int, left: int = 0, top: int = 0) -> ImageSpace:
        return cls(region=Box(left=left, top=top, right=left + width, bottom=top + height), width=width, height=height)

    @classmethod
    def scaled(cls, region: Box, size: tuple[int, int]) -> ImageSpace:
        return cls(region=region, width=size[0], height=size[1])

    @classmethod
    def padded(cls, region: Box, size: tuple[int, int]) -> ImageSpace:
        """`region` at its own scale in a larger `size` image, padded at the right and bottom."""
        return cls(region=region, width=size[0], height=size[1],
                   pad=(size[0] - region.width, size[1] - region.height))

    @property
    def scale_x(self) -> float:
        """Screen pixels per image pixel, horizontally."""
        return self.region.width / (self.width - self.pad[0])

    @property
    def scale_y(self) -> float:
        return self.region.height / (self.height - self.pad[1])

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


# --------------------------------------------------------------------------- sizes


def fit_xga(width: int, height: int, targets: tuple[tuple[int, int], ...] = XGA_TARGETS,
            tolerance: float = 0.02) -> tuple[int, int] | None:
    """The first target whose aspect ratio is within `tolerance` of the screen's and that is
    smaller than the screen (the Anthropic demo's rule); None if none fits."""
    ratio = width / height
    for tw, th in targets:
        if abs(tw / th - ratio) < tolerance and tw < width:
            return (tw, th)
    return None


def fit_max_pixels(width: int, height: int, max_pixels: int, max_edge: int | None = None) -> tuple[int, int]:
    """Largest size with the screen's aspect ratio within a pixel budget (and long-edge cap)."""
    factor = min(1.0, math.sqrt(max_pixels / (width * height)))
    if max_edge:
        factor = min(factor, max_edge / max(width, height))
    return (max(1, int(width * factor)), max(1, int(height * factor)))


def smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56,
                 max_pixels: int = 14 * 14 * 4 * 16384) -> tuple[int, int]:
    """Qwen2.5-VL / UI-TARS resize: sides multiples of `factor`, pixels within [min, max].

    Same algorithm as qwen-vl-utils `smart_resize`; returns (height, width) like it does.
    """
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio over 200: {width}x{height}")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


# --------------------------------------------------------------------------- points


def _to_image_float(space: ImageSpace, x: float, y: float) -> tuple[float, float]:
    return ((x - space.region.left) / space.scale_x, (y - space.region.top) / space.scale_y)


def screen_to_image(space: ImageSpace, x: float, y: float, convention: Convention = "pixels") -> tuple[float, float]:
    """A screen point in the model's convention (floats; round for pixel conventions)."""
    ix, iy = _to_image_float(space, x, y)
    match convention:
        case "pixels":
            return (ix, iy)
        case "grid1000":
            return (ix / space.width * 1000, iy / space.height * 1000)
        case "fraction":
            return (ix / space.width, iy / space.height)


def image_to_screen(space: ImageSpace, x: float, y: float, convention: Convention = "pixels") -> Point:
    """A model's point (in `convention`) as a screen pixel, clamped into the region."""
    match convention:
        case "pixels":
            ix, iy = x, y
        case "grid1000":
            ix, iy = x / 1000 * space.width, y / 1000 * space.height
        case "fraction":
            ix, iy = x * space.width, y * space.height
    r = space.region
    sx = r.left + round(ix * space.scale_x)
    sy = r.top + round(iy * space.scale_y)
    return Point(x=min(max(sx, r.left), r.right - 1), y=min(max(sy, r.top), r.bottom - 1))


def in_image(space: ImageSpace, x: float, y: float, convention: Convention = "pixels") -> bool:
    """Whether a model's point lies inside the image it saw (malformed output check)."""
    limit = {"pixels": (space.width, space.height), "grid1000": (1000, 1000), "fraction": (1, 1)}[convention]
    return 0 <= x <= limit[0] and 0 <= y <= limit[1]


def box_to_screen(space: ImageSpace, box: tuple[float, float, float, float],
                  convention: Convention = "pixels") -> Box:
    """(x0, y0, x1, y1) in the model's convention -> a screen Box."""
    a = image_to_screen(space, box[0], box[1], convention)
    b = image_to_screen(space, box[2], box[3], convention)
    return Box(left=min(a.x, b.x), top=min(a.y, b.y), right=max(a.x, b.x) + 1, bottom=max(a.y, b.y) + 1)


def box_to_image(space: ImageSpace, box: Box) -> tuple[int, int, int, int]:
    """A screen Box in image pixels (for drawing marks on the scaled image)."""
    x0, y0 = _to_image_float(space, box.left, box.top)
    x1, y1 = _to_image_float(space, box.right, box.bottom)
    return (math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1))


# --------------------------------------------------------------------------- images


def resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to exactly `size` keeping small text legible: an exact integer `reduce` first (a box
    average), then Pillow's LANCZOS (antialiased, support scaled with the factor) for the rest.

    Shrinking must low-pass without smearing strokes. OpenCV's INTER_LINEAR samples 4 pixels per
    output pixel, so at 1920 -> 1366 one-pixel strokes drop out: xcalc's `0` key turns into a
    `D`-like blob that OCR, and a model, cannot read. INTER_AREA, Pillow BOX and antialiased
    BILINEAR average it into a grey blur that still reads as `D` at some window positions once the
    image is JPEG-encoded; LANCZOS keeps the stroke's contrast and reads it at every position we
    tried, for ~2x BILINEAR's cost (halved again by two bands on threads) (bench/legibility.py, tests/unit/perception/test_legible_scaling.py,
    tests/display/test_legibility.py)."""
    if image.size == size:
        return image
    w, h = image.size
    factor = min(w // size[0], h // size[1])
    if factor >= 2:
        image = image.reduce(factor)
        if image.size == size:
            return image
    if image.mode not in ("RGB", "L", "RGBA"):
        image = image.convert("RGB")
    if size[0] > image.width or size[1] > image.height:
        return image.resize(size, Image.Resampling.BICUBIC)
    return _lanczos_in_bands(image, size)


_BANDS = 2
_pool: ThreadPoolExecutor | None = None


def _lanczos_in_bands(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """LANCZOS in `_BANDS` horizontal bands on threads (Pillow lets go of the GIL while it
    resamples): each band's source `box` is the exact preimage of its rows and the filter reads
    past it, so the result is one call's (identical when a band edge falls on a source row, within one level
    otherwise: tests/unit/perception/test_scaling.py)."""
    global _pool
    if size[1] < 64:
        return image.resize(size, Image.Resampling.LANCZOS)
    if _pool is None:
        _pool = ThreadPoolExecutor(_BANDS, thread_name_prefix="resize")
    rows = [size[1] * i // _BANDS for i in range(_BANDS + 1)]
    sy = image.height / size[1]

    def band(i: int) -> Image.Image:
        return image.resize((size[0], rows[i + 1] - rows[i]), Image.Resampling.LANCZOS,
                            box=(0, rows[i] * sy, image.width, rows[i + 1] * sy))
    out = Image.new(image.mode, size)
    for i, part in enumerate(_pool.map(band, range(_BANDS))):
        out.paste(part, (0, rows[i]))
    return out
