"""Set-of-Mark: numbered marks drawn on a copy of the image a model sees, and their legend.

    marked = draw_marks(frame.image, elements, scale=frame.scale)   # image space
    text = legend(elements)                                        # "[17] push button "7"" lines, widgets first

Elements are in screen space; `space` (a `scaling.ImageSpace`), or `scale` (image px per screen
px) and `origin` (the screen position of the image's top-left pixel, non-zero for a monitor
crop), place them in image space; or pass `to_image` for another mapping. Each mark is a thin
semi-transparent outline plus a small opaque number tag (drawn once per id and colour, then pasted)
placed just outside the box (above-left, else below, else inside the corner), so the label it
marks stays readable. Tags avoid each other where they can.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import lru_cache, partial

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from actions.models import Box
from agent.perception.elements import Element
from agent.perception.scaling import ImageSpace, box_to_image
from agent.perception.widgets import FRAMED, interactive

log = logging.getLogger(__name__)

ToImage = Callable[[Box], tuple[float, float, float, float]]
PALETTE = ((230, 25, 75), (0, 130, 200), (60, 160, 60), (145, 30, 180), (245, 130, 48), (0, 128, 128),
           (170, 110, 40), (128, 0, 0))


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "LiberationSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _scaler(scale: float, origin: tuple[int, int]) -> ToImage:
    def to_image(b: Box) -> tuple[float, float, float, float]:
        ox, oy = origin
        return ((b.left - ox) * scale, (b.top - oy) * scale, (b.right - ox) * scale, (b.bottom - oy) * scale)
    return to_image


def draw_marks(image: Image.Image, elements: Sequence[Element], scale: float = 1.0,
               origin: tuple[int, int] = (0, 0), to_image: ToImage | None = None,
               space: ImageSpace | None = None, font_size: int | None = None,
               outline_alpha: int = 150) -> Image.Image:
    """A copy of `image` with each element's box outlined and its id tagged (see module doc).

    Placement, first given wins: `space` (scaling.ImageSpace, e.g. `Frame.space`), `to_image`,
    else `scale` and `origin`. `font_size` defaults to ~1.6% of the image height (11 px at 720),
    never below 10 px.
    """
    if space is not None:
        to_image = partial(box_to_image, space)
    mapping = to_image or _scaler(scale, origin)
    base = image.convert("RGB")  # a copy (or a conversion), drawn on with blending:
    draw = ImageDraw.Draw(base, "RGBA")  # no overlay to composite (about 3x faster)
    if not elements:
        return base
    size = font_size or max(10, round(image.height * 0.016))
    boxes = np.array([mapping(e.box) for e in elements], dtype=np.float64).reshape(-1, 4)
    tags = [_tag(str(e.id), PALETTE[e.id % len(PALETTE)], size) for e in elements]
    spots, clear, own = _spots(boxes, np.array([t.size for t in tags]).reshape(-1, 2), base.size)
    taken: list[Rect] = []
    for i, (e, tag) in enumerate(zip(elements, tags)):
        left, top, right, bottom = boxes[i]
        if right < 0 or bottom < 0 or left >= base.width or top >= base.height:
            continue
        color = PALETTE[e.id % len(PALETTE)]
        draw.rectangle((left, top, right - 1, bottom - 1), outline=(*color, outline_alpha), width=1)
        rect = _choose(spots[i], clear[i], own[i], taken)
        base.paste(tag, rect[:2])
        taken.append(rect)
    return base


Rect = tuple[int, int, int, int]


@lru_cache(maxsize=512)
def _tag(text: str, color: tuple[int, int, int], size: int) -> Image.Image:
    """An opaque tag with `text` in white on `color`, drawn once and pasted wherever it is needed."""
    font = _font(size)
    x0, _, x1, y1 = font.getbbox(text)
    tag = Image.new("RGB", (int(x1 - x0 + 4), int(y1 + 2)), color)
    ImageDraw.Draw(tag).text((2 - x0, 1), text, fill=(255, 255, 255), font=font)
    return tag


def _spots(boxes: np.ndarray, tags: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """For every box (n, 4) and its tag size (n, 2): the nine candidate tag rectangles in order of
    preference (above-left, above, above-right, below-left, ..., inside the top-left corner), shape
    (n, 9, 4), clamped to the image; which cover no box at all; which cover not their own box."""
    w, h = tags[:, :1], tags[:, 1:]
    left, top, right, bottom = (boxes[:, i:i + 1] for i in range(4))
    xs = np.hstack([left - w, left, right, left - w, right, left, right - w, left - w, left])
    ys = np.hstack([top - h, top - h, top - h, bottom, bottom - h, bottom, bottom, top, top])
    xs = np.clip(np.round(xs), 0, size[0] - w).astype(int)
    ys = np.clip(np.round(ys), 0, size[1] - h).astype(int)
    spots = np.stack([xs, ys, xs + w, ys + h], axis=2)
    n = len(boxes)
    flat = spots.reshape(-1, 4)
    clear = ~_overlaps(flat, boxes).any(axis=1).reshape(n, 9)
    own = ~_overlaps(flat, np.repeat(boxes, 9, axis=0), pairwise=True).reshape(n, 9)
    return spots, clear, own


def _choose(spots: np.ndarray, clear: np.ndarray, own: np.ndarray, taken: list[Rect]) -> Rect:
    """The first spot that covers no label and no other tag; else one that covers no tag and not
    its own label; else the first spot."""
    rects: list[Rect] = [tuple(r) for r in spots.tolist()]
    for wanted in (clear, own):
        for r, ok in zip(rects, wanted.tolist()):
            if ok and not any(_hits(r, t) for t in taken):
                return r
    return rects[0]


def _overlaps(a: np.ndarray, b: np.ndarray, pairwise: bool = False) -> np.ndarray:
    """Whether rectangles (left, top, right, bottom) overlap: a (n, 4) against every b (m, 4) as an
    (n, m) matrix, or row by row (`pairwise`, equal lengths) as (n,)."""
    if not pairwise:
        a, b = a[:, None, :], b[None, :, :]
    return ((a[..., 0] < b[..., 2]) & (b[..., 0] < a[..., 2]) & (a[..., 1] < b[..., 3]) & (b[..., 1] < a[..., 3]))


def _hits(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def ordered(elements: Sequence[Element]) -> list[Element]:
    """What can be acted on first (`widgets.interactive`), then the rest, each in the given order:
    the order a legend lists marks in, so a model reads the buttons before the readouts."""
    return sorted(elements, key=lambda e: not interactive(e))


def legend(elements: Sequence[Element]) -> str:
    """One line per element, e.g. `[17] push button "7"` (plus states like focused, checked);
    interactive elements first (`ordered`)."""
    lines = []
    for e in ordered(elements):
        text = e.text.replace("\n", " ").strip()
        if len(text) > 80:
            text = text[:77] + "..."
        states = [s for s in e.states if s not in ("sensitive", "focusable", "enabled", FRAMED)]
        if e.source != "ocr" and "sensitive" not in e.states:
            states.append("disabled")
        suffix = f" ({', '.join(states)})" if states else ""
        lines.append(f'[{e.id}] {e.role} "{text}"{suffix}')
    return "\n".join(lines)
