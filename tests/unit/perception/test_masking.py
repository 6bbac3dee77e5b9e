"""Secrets in pixels: lines of a frame that show a secret are painted over; element texts lose it."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw

from actions.desktop.base import Screenshot
from actions.desktop.fake import FakeDesktop
from actions.models import Box
from actions.secrets import Redactor
from agent.perception.elements import Element
from agent.perception.masking import SecretMasker, shows_secret
from agent.perception.observation import Observation
from agent.perception.ocr import FakeOcrEngine, TextLine
from agent.perception.ocr_cache import OcrReader

LINE = Box(left=20, top=40, right=150, bottom=60)
OTHER = Box(left=20, top=100, right=50, bottom=120)


def frame() -> Screenshot:
    image = Image.new("RGB", (400, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.text((LINE.left + 2, LINE.top + 4), "$ echo hunter2-secret", fill="black")
    draw.text((OTHER.left + 2, OTHER.top + 4), "$ ls", fill="black")
    return Screenshot(image=image)


@pytest.mark.parametrize(("text", "shown"), [("$ echo hunter2-secret", True), ("hunter2-secrel", True),
                                             ("h u n t e r 2 - s e c r e t", True), ("hunter", False),
                                             ("$ ls", False)])
def test_shows_secret_allows_for_ocr_slips_but_not_for_fragments(text: str, shown: bool) -> None:
    assert shows_secret(text, ["hunter2-secret"]) is shown


def test_the_line_showing_a_secret_is_black_and_the_rest_untouched() -> None:
    ocr = FakeOcrEngine([TextLine(text="$ echo hunter2-secret", box=LINE, confidence=0.9),
                         TextLine(text="$ ls", box=OTHER, confidence=0.9)])
    masker = SecretMasker(OcrReader(ocr), Redactor({"PW": "hunter2-secret"}))
    shot = frame()
    masked = masker.screenshot(shot)
    assert masked is not shot
    ink = ImageChops.invert(shot.image.crop((LINE.left, LINE.top, LINE.right, LINE.bottom))).getbbox()
    assert ink is not None
    inside = masked.image.crop((LINE.left, LINE.top, LINE.right, LINE.bottom)).crop(ink)
    assert inside.getcolors() == [(inside.width * inside.height, (0, 0, 0))]  # every glyph pixel painted
    outside = masked.image.crop((OTHER.left, OTHER.top, OTHER.right, OTHER.bottom))
    assert outside.tobytes() == shot.image.crop((OTHER.left, OTHER.top, OTHER.right, OTHER.bottom)).tobytes()


def test_an_observation_loses_the_secret_from_pixels_and_element_texts() -> None:
    ocr = FakeOcrEngine([TextLine(text="$ echo hunter2-secret", box=LINE, confidence=0.9)])
    masker = SecretMasker(OcrReader(ocr), Redactor({"PW": "hunter2-secret"}))
    obs = Observation(screenshot=frame(), screen=FakeDesktop(size=(400, 200)).geometry(),
                      elements=(Element(id=1, text="echo hunter2-secret", box=LINE),
                                Element(id=2, text="hunter2-secre", box=LINE), Element(id=3, text="$ ls", box=OTHER)))
    masked = masker.observation(obs)
    assert [e.text for e in masked.elements] == ["echo {{PW}}", "(hidden: shows a secret)", "$ ls"]
    assert masked.screenshot.image.getpixel((LINE.left + 5, LINE.top + 5)) == (0, 0, 0)


def test_a_frame_without_the_secret_is_returned_as_it_is() -> None:
    masker = SecretMasker(OcrReader(FakeOcrEngine([TextLine(text="$ ls", box=OTHER, confidence=0.9)])),
                          Redactor({"PW": "hunter2-secret"}))
    shot = frame()
    assert masker.screenshot(shot) is shot
