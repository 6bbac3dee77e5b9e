"""What can be acted on: interactive roles, and OCR text inside a button-like frame.

    elements = framed_buttons(ocr_elements, screenshot)   # xcalc's keys become "push button"
    interactive(element)                                  # True for buttons, links, menu items, ...

Accessibility names its widgets; an OCR-only app (xcalc, an old Xaw or Motif program) does not.
There a label is taken for a button when the pixels around it close into a frame of its own: from
the label's middle, the first contrasting pixel to the left, right, above and below lies on a
straight line that runs from corner to corner, and the label sits about in the frame's middle.
A display readout (a right-aligned number in a wide box) or a text field's left-aligned text is
not centred in its frame, and a word in running text has none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from actions.desktop.base import Screenshot
from actions.models import Box
from agent.perception.elements import Element

Recognise = Callable[[Image.Image], tuple[str, float]]  # one line's pixels -> (text, confidence)

INTERACTIVE_ROLES = frozenset({
    "push button", "button", "toggle button", "menu item", "check menu item", "radio menu item", "menu",
    "link", "check box", "radio button", "combo box", "page tab", "tab", "spin button", "slider",
    "list item", "tree item", "table cell", "entry", "password text", "toggle"})
EDITABLE_ROLES = frozenset({"text", "entry", "password text"})  # for accessibility "text" is a field
FRAMED = "framed"   # state of an OCR element whose button role was read from its frame's pixels
CONTRAST = 60       # grey levels between a frame line and the background inside it
LINE_COVER = 0.85   # the part of a frame side that must be line


def interactive(element: Element) -> bool:
    """A widget a click acts on: an interactive accessibility role, or a framed OCR label."""
    if element.source == "ocr":
        return FRAMED in element.states
    return element.role in INTERACTIVE_ROLES or element.role in EDITABLE_ROLES


def kind(element: Element) -> str:
    """A short word for what the element is, for messages: button, link, text, field, ..."""
    if element.source == "ocr":
        return "button" if FRAMED in element.states else "text"
    if element.role in EDITABLE_ROLES:
        return "field"
    return "button" if element.role in ("push button", "button") else element.role


def framed_buttons(elements: Sequence[Element], shot: Screenshot, recognise: Recognise | None = None
                   ) -> list[Element]:
    """`elements` with each OCR label that sits in a button-like frame turned into a "push button"
    (state `framed`); everything else unchanged. With `recognise` (the OCR engine's recogniser),
    keys that read the same short label are read again alone, enlarged: one app rarely has two
    keys "7", but OCR reads xcalc's "1" as "7" in some places on screen."""
    ocr = [e for e in elements if e.source == "ocr" and e.role == "text" and len(e.text) <= 24]
    if not ocr:
        return list(elements)
    grey = np.asarray(shot.image.convert("L"), dtype=np.int16)
    out = []
    for e in elements:
        if e.source == "ocr" and e.role == "text" and len(e.text) <= 24 and _framed(grey, e, shot.left, shot.top):
            e = e.model_copy(update={"role": "push button", "states": (*e.states, FRAMED)})
        out.append(e)
    return _look_again(out, shot, recognise) if recognise is not None else out


SECOND_LOOK_SURE = 0.8  # a second reading replaces the first only when at least this sure


def _look_again(elements: list[Element], shot: Screenshot, recognise: Recognise) -> list[Element]:
    """Framed keys sharing a short label, each re-read alone on a plain enlarged canvas."""
    from agent.perception.ocr_staged import canvas  # find -> widgets; ocr -> find: not at import

    alike: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(elements):
        if FRAMED in e.states and len(e.text) <= 3:
            alike[e.text].append(i)
    image = None
    for indices in (v for v in alike.values() if len(v) > 1):
        for i in indices:
            e = elements[i]
            b = e.box
            image = image or shot.image.convert("RGB")
            crop = image.crop((b.left - shot.left - 2, b.top - shot.top - 2,
                                                   b.right - shot.left + 2, b.bottom - shot.top + 2))
            bg = tuple(int(v) for v in np.median(np.asarray(crop).reshape(-1, 3), axis=0))
            text, score = recognise(canvas(crop, Box(left=0, top=0, right=crop.width, bottom=crop.height), bg))
            if text and text != e.text and score >= SECOND_LOOK_SURE:
                elements[i] = e.model_copy(update={"text": text, "confidence": min(1.0, score)})
    return elements


def _framed(grey: np.ndarray, e: Element, left: int, top: int) -> bool:
    b = e.box
    x0, y0, x1, y1 = b.left - left, b.top - top, b.right - left, b.bottom - top
    h, w = max(1, y1 - y0), max(1, x1 - x0)
    height, width = grey.shape
    if x0 < 1 or y0 < 1 or x1 >= width - 1 or y1 >= height - 1 or h > 60:
        return False
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    bg = int(np.median(np.concatenate([grey[y0 - 1, x0:x1], grey[y1, x0:x1], grey[y0:y1, x0 - 1], grey[y0:y1, x1]])))
    reach_x, reach_y = 3 * max(h, 10) + 12, 2 * max(h, 10) + 8
    right = _first(grey[cy, x1:min(width, x1 + reach_x)], bg)
    left_ = _first(grey[cy, max(0, x0 - reach_x):x0][::-1], bg)
    below = _first(grey[y1:min(height, y1 + reach_y), cx], bg)
    above = _first(grey[max(0, y0 - reach_y):y0, cx][::-1], bg)
    if None in (right, left_, below, above):
        return False
    assert right is not None and left_ is not None and below is not None and above is not None
    fl, fr, ft, fb = x0 - 1 - left_, x1 + right, y0 - 1 - above, y1 + below
    if not (_line(grey[ft:fb + 1, fl], bg) and _line(grey[ft:fb + 1, fr], bg)
            and _line(grey[ft, fl:fr + 1], bg) and _line(grey[fb, fl:fr + 1], bg)):
        return False
    fw, fh = fr - fl, fb - ft
    centred = abs((fl + fr) / 2 - (x0 + x1) / 2) <= 0.15 * fw + 2 and abs((ft + fb) / 2 - (y0 + y1) / 2) <= 0.2 * fh + 2
    return centred and fh <= 4 * max(h, 10) + 16 and fw >= w + 4 and fh >= h + 4


def _first(run: np.ndarray, bg: int) -> int | None:
    """Index of the first pixel of `run` that contrasts with `bg`, None when there is none."""
    hits = np.flatnonzero(np.abs(run - bg) > CONTRAST)
    return int(hits[0]) if hits.size else None


def _line(run: np.ndarray, bg: int) -> bool:
    return run.size > 2 and float(np.mean(np.abs(run - bg) > CONTRAST)) >= LINE_COVER
