"""Secrets in pixels: once a secret was typed, where it shows on screen is blacked out.

A terminal echoes what is typed, so after `echo {{PW}}` every screenshot would show the value:
to the model in the next request, and in the stored frames and the report. `SecretMasker` reads
the frame's text (the perceiver's OCR reader, so unchanged regions come from its cache) and
paints over every line that holds a secret, or enough of one to matter. Elements keep their box
but lose the value from their text (accessibility names can hold it too).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import replace

from PIL import Image, ImageDraw

from actions.desktop.base import Screenshot
from actions.models import Box
from actions.secrets import Redactor
from agent.perception.elements import Element
from agent.perception.observation import Observation
from agent.perception.ocr_cache import OcrReader

log = logging.getLogger(__name__)

_PAD = 3  # pixels around a masked line: anti-aliased edges of glyphs must not survive


def shows_secret(text: str, values: Sequence[str]) -> bool:
    """Whether OCR'd `text` shows a secret, allowing for OCR slips: the longest common run must
    cover most of the value (all of it for values under 6 characters)."""
    folded = "".join(text.split()).casefold()
    for value in values:
        v = "".join(value.split()).casefold()
        if not v:
            continue
        if v in folded:
            return True
        need = len(v) if len(v) < 6 else max(5, int(len(v) * 0.7))
        match = difflib.SequenceMatcher(None, folded, v, autojunk=False).find_longest_match(0, len(folded), 0, len(v))
        if match.size >= need:
            return True
    return False


class SecretMasker:
    """Blacks out the lines of a frame where a secret shows. See the module docstring."""

    def __init__(self, reader: OcrReader, redactor: Redactor) -> None:
        self.reader = reader
        self.redactor = redactor
        self.values = redactor.values

    def boxes(self, shot: Screenshot) -> list[Box]:
        result = self.reader.read(shot)
        return [line.box for line in result.lines if shows_secret(line.text, self.values)]

    def screenshot(self, shot: Screenshot) -> Screenshot:
        """The frame with every line that shows a secret painted over (the same object if none)."""
        boxes = self.boxes(shot)
        if not boxes:
            return shot
        log.info("masked %d line(s) showing a secret", len(boxes))
        return replace(shot, image=paint(shot.image, boxes, shot.left, shot.top))

    def elements(self, elements: Sequence[Element]) -> tuple[Element, ...]:
        """The elements with the secrets gone from their texts (boxes kept)."""
        return tuple(_masked(e, self.redactor, self.values) for e in elements)

    def observation(self, obs: Observation) -> Observation:
        shot = self.screenshot(obs.screenshot)
        elements = self.elements(obs.elements)
        if shot is obs.screenshot and elements == obs.elements:
            return obs
        return replace(obs, screenshot=shot, elements=elements)


def paint(image: Image.Image, boxes: Sequence[Box], left: int = 0, top: int = 0) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    for b in boxes:
        draw.rectangle((b.left - left - _PAD, b.top - top - _PAD, b.right - left + _PAD, b.bottom - top + _PAD),
                       fill="black")
    return out


def _masked(element: Element, redactor: Redactor, values: Sequence[str]) -> Element:
    text = redactor.text(element.text)
    if text == element.text and shows_secret(text, values):
        text = "(hidden: shows a secret)"
    return element if text == element.text else element.model_copy(update={"text": text})
