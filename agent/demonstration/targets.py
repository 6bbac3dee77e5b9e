"""What a recorded pointer action aims at: a crop around the point, and the label and box under it.

    labeler = OcrLabeler(RapidOcrEngine())          # a11y=A11yReader() adds accessible names
    element = labeler.label(image, Point(x=120, y=300))
    crop = crop_around(image, point)                # stored via Recorder.add_crop -> Target.crop_hash

`image` is a full screen frame (screen space, origin 0,0), already blacked out where it must be:
OCR never sees a redacted region, so no label can leak one. Only a band around the point is read
(`region`), which keeps a label to ~0.1-0.3 s on the recorder's worker thread.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image, ImageDraw

from actions.errors import UsageError
from actions.models import Box, Point
from agent.perception.a11y import A11yReader
from agent.perception.elements import Element
from agent.perception.ocr import OcrEngine, OcrUnavailable
from agent.perception.ocr_cache import lines_to_elements

log = logging.getLogger(__name__)

CROP_SIZE = (96, 96)


def parse_region(text: str) -> Box:
    """`x,y,w,h` (screen pixels) -> Box; UsageError naming the bad value otherwise."""
    try:
        x, y, w, h = (int(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise UsageError(f"bad --redact region {text!r}: write it as x,y,w,h in screen pixels, "
                         "e.g. 0,0,400,300") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise UsageError(f"bad --redact region {text!r}: x and y must be >= 0, w and h > 0")
    return Box(left=x, top=y, right=x + w, bottom=y + h)


def black_out(image: Image.Image, boxes: Iterable[Box]) -> Image.Image:
    """A copy of `image` with every box filled black (the original is left alone)."""
    boxes = list(boxes)
    if not boxes:
        return image
    out = image.copy()
    draw = ImageDraw.Draw(out)
    for b in boxes:
        draw.rectangle((b.left, b.top, b.right - 1, b.bottom - 1), fill="black")
    return out


def clamp_box(center: Point, size: tuple[int, int], bounds: tuple[int, int]) -> Box:
    """A `size` box centred on `center`, moved (not shrunk) to fit inside (0, 0, *bounds)."""
    w, h = min(size[0], bounds[0]), min(size[1], bounds[1])
    left = min(max(center.x - w // 2, 0), bounds[0] - w)
    top = min(max(center.y - h // 2, 0), bounds[1] - h)
    return Box(left=left, top=top, right=left + w, bottom=top + h)


def crop_around(image: Image.Image, point: Point, size: tuple[int, int] = CROP_SIZE) -> Image.Image:
    box = clamp_box(point, size, image.size)
    return image.crop((box.left, box.top, box.right, box.bottom))


def same_place(a: Image.Image, b: Image.Image, changed_at_most: float = 0.4) -> bool:
    """Whether two crops of one spot show the same thing, allowing a pressed or highlighted widget
    (an inverted xcalc key is ~12% of a 96x96 crop): at most `changed_at_most` of the pixels differ."""
    if a.size != b.size:
        return False
    diff = np.abs(np.asarray(a.convert("L"), dtype=np.int16) - np.asarray(b.convert("L"), dtype=np.int16))
    return float((diff > 24).mean()) <= changed_at_most


def hit_test(elements: Sequence[Element], point: Point, radius: float = 12.0, pad: int = 4) -> Element | None:
    """The element under `point`: the smallest box containing it (padded by `pad`), accessibility
    before OCR; else the nearest element whose box is within `radius` pixels."""
    def holds(e: Element) -> bool:
        b = e.box
        return b.left - pad <= point.x < b.right + pad and b.top - pad <= point.y < b.bottom + pad

    inside = [e for e in elements if holds(e)]
    if inside:
        return min(inside, key=lambda e: (e.source == "ocr", e.box.width * e.box.height))
    near = [(_box_distance(e.box, point), e) for e in elements]
    near = [(d, e) for d, e in near if d <= radius]
    return min(near, key=lambda de: de[0])[1] if near else None


def _box_distance(b: Box, p: Point) -> float:
    dx = max(b.left - p.x, 0, p.x - (b.right - 1))
    dy = max(b.top - p.y, 0, p.y - (b.bottom - 1))
    return math.hypot(dx, dy)


@runtime_checkable
class Labeler(Protocol):
    """Names what a recorded pointer action aims at: `OcrLabeler` (real), `FakeLabeler` (fake)."""

    def label(self, image: Image.Image, point: Point) -> Element | None: ...


class FakeLabeler:
    """Hit-tests the point against given `elements` (screen space), whatever the image shows."""

    def __init__(self, elements: Sequence[Element] = ()) -> None:
        self.elements = tuple(elements)
        self.asked: list[Point] = []

    def label(self, image: Image.Image, point: Point) -> Element | None:
        self.asked.append(point)
        return hit_test(self.elements, point)


class OcrLabeler:
    """Reads the band around a point with an OCR engine (plus accessibility when given) and hit-tests.
    An engine that cannot load is reported once and then skipped: targets keep crop and no label."""

    def __init__(self, engine: OcrEngine, a11y: A11yReader | None = None,
                 region: tuple[int, int] = (360, 120)) -> None:
        self.engine = engine
        self.a11y = a11y
        self.region = region
        self.error: str | None = None

    def load(self) -> None:
        """Build the engine now (a failure only means no labels)."""
        load = getattr(self.engine, "load", None)
        try:
            if callable(load):
                load()
        except OcrUnavailable as e:
            self.error = str(e)
            log.warning("recording without labels: %s", e)

    def label(self, image: Image.Image, point: Point) -> Element | None:
        elements: list[Element] = []
        if self.a11y is not None:
            result = self.a11y.read()
            elements += [e for e in result.elements if e.box.contains(point.x, point.y)]
        if self.error is None:
            elements += self._ocr(image, point)
        return hit_test(elements, point)

    def _ocr(self, image: Image.Image, point: Point) -> list[Element]:
        area = clamp_box(point, self.region, image.size)
        crop = image.crop((area.left, area.top, area.right, area.bottom))
        crop.info["origin"] = (area.left, area.top)
        try:
            lines = self.engine.read(crop)
        except OcrUnavailable as e:
            self.error = str(e)
            log.warning("recording without labels: %s", e)
            return []
        out = []
        for element in lines_to_elements(lines):
            b = element.box
            out.append(element.model_copy(update={"box": Box(left=b.left + area.left, top=b.top + area.top,
                                                       right=b.right + area.left, bottom=b.bottom + area.top)}))
        return out


class PasswordProbe:
    """Asks accessibility whether the focused element is a password field (GTK/Qt apps only)."""

    def __init__(self, reader: A11yReader) -> None:
        self.reader = reader

    def __call__(self) -> bool:
        result = self.reader.read()
        return any(e.role == "password" and "focused" in e.states for e in result.elements)
