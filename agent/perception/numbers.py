"""Numbers a model says it read on the screen, confirmed by OCR of a zoomed crop of their region.

    checker = NumberChecker(engine)                  # the OCR engine the perceiver uses
    for check in checker.check("The display shows 42", observation):
        if not check.confirmed: note(check.note)     # "you state 42, but ... reads 41"

Vision models misread small digits; so may the whole-screen OCR. A stated number is looked up in
the observation's elements (where the screen shows it, readouts before keys); that region, or when
no element reads it, the readout whose number is most like it, is cut from the full-resolution
frame, enlarged (`zoom.zoom`, LANCZOS) and read again on its own. The number is confirmed when
that closer reading holds it; otherwise the check says what the zoom read and where.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from actions.models import Box
from agent import status
from agent.perception.elements import Element
from agent.perception.observation import Observation
from agent.perception.ocr import OcrEngine, OcrUnavailable
from agent.perception.widgets import interactive
from agent.perception.zoom import zoom

log = logging.getLogger(__name__)

NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?![\w])")
MOST = 5  # numbers checked per text: each costs an OCR read of a small crop


class NumberCheck(BaseModel):
    """One stated number and what OCR of its zoomed region read."""

    model_config = ConfigDict(frozen=True)
    value: str
    confirmed: bool
    read: str | None = None         # the zoomed region's text (None: no region to read)
    region: Box | None = None       # screen space
    note: str = ""


def plain(number: str) -> str:
    """A number's comparable form: no sign '+', no thousands commas, no trailing decimal zeros."""
    number = number.lstrip("+").replace(",", "")
    return number.rstrip("0").rstrip(".") if "." in number else number


def numbers_in(text: str) -> list[str]:
    """The numbers in `text`, plain (`plain`), in order, each once."""
    return list(dict.fromkeys(plain(n) for n in NUMBER.findall(text)))


class NumberChecker:
    """Confirms stated numbers against OCR of a zoomed crop (see the module docstring)."""

    def __init__(self, engine: OcrEngine, factor: float = 3.0, margin: int = 4) -> None:
        self.engine = engine
        self.factor = factor
        self.margin = margin

    def check(self, text: str, observation: Observation) -> list[NumberCheck]:
        """One check per number stated in `text` (at most `MOST`)."""
        stated = numbers_in(text)[:MOST]
        if stated:
            status.show(f"checking {', '.join(stated)} against the screen (OCR of a {self.factor:g}x zoom)")
        return [self.confirm(n, observation) for n in stated]

    def confirm(self, value: str, observation: Observation) -> NumberCheck:
        value = plain(value)
        element = _region(value, observation.elements)
        if element is None:
            return NumberCheck(value=value, confirmed=False,
                               note=f"{value} is not on the screen: OCR reads no number like it")
        try:
            view = zoom(observation.screenshot, element.box, factor=self.factor, margin=self.margin)
            read = " ".join(ln.text for ln in sorted(self.engine.read(view.image), key=lambda ln: ln.box.left))
        except OcrUnavailable as e:
            return NumberCheck(value=value, confirmed=False, region=element.box, note=f"{value} not checked: {e}")
        b = element.box
        if value in numbers_in(read):
            return NumberCheck(value=value, confirmed=True, read=read, region=b,
                               note=f"{value} confirmed by OCR of a {self.factor:g}x zoom of ({b.left},{b.top},"
                                    f"{b.right},{b.bottom})")
        return NumberCheck(value=value, confirmed=False, read=read, region=b,
                           note=f"you state {value}, but OCR of a {self.factor:g}x zoom of the screen at ({b.left},"
                                f"{b.top},{b.right},{b.bottom}) reads {read!r}: look again before you answer")


def _region(value: str, elements: Sequence[Element]) -> Element | None:
    """Where the screen shows `value` (a readout before a key), else the readout (not a widget)
    whose number is most like it (half its digits at least), else None."""
    showing = [e for e in elements if value in numbers_in(e.text)]
    if showing:
        return min(showing, key=interactive)
    best: tuple[float, Element] | None = None
    for e in elements:
        if interactive(e):  # a key's label is not a value the screen shows
            continue
        for n in numbers_in(e.text):
            ratio = difflib.SequenceMatcher(None, value, n).ratio()
            if ratio >= 0.5 and (best is None or ratio > best[0]):
                best = (ratio, e)
    return best[1] if best else None
