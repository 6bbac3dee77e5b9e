"""Set-of-Mark: numbered marks drawn on a copy of the image a model sees, and their legend.

    marked = draw_marks(frame.image, elements, scale=frame.scale)   # image space
    text = legend(elements)                                        # "[17] button "7"" lines

Elements are in screen space; `space` (a `scaling.ImageSpace`), or `scale` (image px per screen
px) and `origin` (the screen position of the image's top-left pixel, non-zero for a monitor
crop), place them in image space; or pass `to_image` for another mapping. Each mark is a thin semi-transparent outline plus a small
opaque number tag placed just outside the box (above-left, else below, else inside the corner),
so the label it marks stays readable. Tags avoid each other where they can.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import lru_cache, partial

from PIL import Image, ImageDraw, ImageFont

from actions.models import Box
from agent.perception.elements import Element
from agent.perception.scaling import ImageSpace, box_to_image

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
    font = _font(font_size or max(10, round(image.height * 0.016)))
    taken: list[tuple[float, float, float, float]] = []
    boxes = [mapping(e.box) for e in elements]
    for e, (left, top, right, bottom) in zip(elements, boxes):
        if right < 0 or bottom < 0 or left >= base.width or top >= base.height:
            continue
        color = PALETTE[e.id % len(PALETTE)]
        draw.rectangle((left, top, right - 1, bottom - 1), outline=(*color, outline_alpha), width=1)
        tag = _place_tag(draw, font, str(e.id), (left, top, right, bottom), base.size, taken, boxes)
        taken.append(tag)
        draw.rectangle(tag, fill=(*color, 230))
        draw.text((tag[0] + 2, tag[1] + 1), str(e.id), fill=(255, 255, 255, 255), font=font)
    return base


Rect = tuple[float, float, float, float]


def _place_tag(draw: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str,
               box: Rect, size: tuple[int, int], taken: list[Rect], labels: Sequence[Rect]) -> Rect:
    """The first corner spot that covers no label and no other tag; else one that covers no tag
    and not its own label; else the first spot."""
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    w, h = x1 - x0 + 4, y1 + 2
    left, top, right, bottom = box
    spots = [(left - w, top - h), (left, top - h), (right, top - h), (left - w, bottom),
             (right, bottom - h), (left, bottom), (right - w, bottom), (left - w, top), (left, top)]
    rects = []
    for x, y in spots:
        x, y = min(max(x, 0), size[0] - w), min(max(y, 0), size[1] - h)
        rects.append((x, y, x + w, y + h))
    free = [r for r in rects if not any(_hits(r, t) for t in taken)]
    for rect in free:
        if not any(_hits(rect, b) for b in labels):
            return rect
    own = [r for r in free if not _hits(r, box)]
    return own[0] if own else rects[0]


def _hits(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def legend(elements: Sequence[Element]) -> str:
    """One line per element, e.g. `[17] button "7"` (plus states like focused, checked)."""
    lines = []
    for e in elements:
        text = e.text.replace("\n", " ").strip()
        if len(text) > 80:
            text = text[:77] + "..."
        states = [s for s in e.states if s not in ("sensitive", "focusable", "enabled")]
        if e.source != "ocr" and "sensitive" not in e.states:
            states.append("disabled")
        suffix = f" ({', '.join(states)})" if states else ""
        lines.append(f'[{e.id}] {e.role} "{text}"{suffix}')
    return "\n".join(lines)
