"""The downscale a model's image gets keeps thin glyphs readable (issue 14).

data/xcalc_window.png is xcalc under openbox as grabbed on a 1920x1080 Xvfb (tests/legibility.py
launches it the same way). Pasted at these screen positions and scaled to 1366x768 (the Anthropic,
OpenAI CUA and Chat Completions image for that screen), OpenCV's INTER_LINEAR turns the `0` key
into a `D`-like blob that OCR reads as "D" (or not at all); INTER_AREA still does at three of them.
The image is read as sent: JPEG at the profiles' default quality (q95; q85 lost it too).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from agent.perception.capture import encode_image
from agent.perception.ocr import RapidOcrEngine
from agent.perception.scaling import resize
from agent.planners.profiles import ModelProfile

WINDOW = Image.open(Path(__file__).parent / "data" / "xcalc_window.png").convert("RGB")
SCREEN, SENT = (1920, 1080), (1366, 768)
# Window positions where INTER_LINEAR (all five) and INTER_AREA (all but 908,42 and 912,43) lost the `0`.
PLACES = ((901, 40), (901, 43), (908, 40), (908, 42), (912, 43))


@pytest.fixture(scope="module")
def ocr() -> RapidOcrEngine:
    return RapidOcrEngine()


def zero_key_read(ocr: RapidOcrEngine, small: Image.Image, at: tuple[int, int]) -> bool:
    """Whether OCR reads the `0` key (bottom row; the display's `0` is at the top) in the scaled screen."""
    s = SENT[0] / SCREEN[0]
    left, top = at
    small = Image.open(io.BytesIO(encode_image(small, "jpeg", ModelProfile().image_quality).data)).convert("RGB")
    crop = small.crop((int(left * s), int(top * s), int((left + WINDOW.width) * s) + 1,
                       int((top + WINDOW.height) * s) + 1))
    return any(line.text == "0" and line.box.top > crop.height * 0.8 for line in ocr.read(crop))


def screen_with_xcalc(at: tuple[int, int]) -> Image.Image:
    screen = Image.new("RGB", SCREEN)
    screen.paste(WINDOW, at)
    return screen


def test_the_zero_key_reads_after_scaling_at_every_position(ocr: RapidOcrEngine) -> None:
    lost = [at for at in PLACES if not zero_key_read(ocr, resize(screen_with_xcalc(at), SENT), at)]
    assert lost == []


def test_bilinear_sampling_loses_the_zero_key_there(ocr: RapidOcrEngine) -> None:
    """The control: the positions above do tell a filter that does not low-pass from one that does."""
    def linear(image: Image.Image) -> Image.Image:
        return Image.fromarray(cv2.resize(np.asarray(image), SENT, interpolation=cv2.INTER_LINEAR))
    lost = [at for at in PLACES if not zero_key_read(ocr, linear(screen_with_xcalc(at)), at)]
    assert len(lost) >= len(PLACES) // 2, lost
