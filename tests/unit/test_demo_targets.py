"""Targets of recorded pointer actions (crop, label, bbox), black-outs, regions and the a11y password rule."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from PIL import Image, ImageDraw

from actions.errors import UsageError
from actions.models import Box, Point, Type
from agent.demo_input import Grab
from agent.demo_session import RecordOptions, StopFlag, _Writer
from agent.demo_targets import (
    OcrLabeler,
    black_out,
    clamp_box,
    crop_around,
    hit_test,
    parse_region,
    same_place,
)
from agent.demonstration import REDACTED, Demonstrated
from agent.perception.elements import Element
from agent.perception.ocr import FakeOcrEngine, TextLine
from agent.recorder import MemoryRecorder


def test_parse_region_and_its_errors() -> None:
    assert parse_region("10, 20,30,40") == Box(left=10, top=20, right=40, bottom=60)
    for bad in ("1,2,3", "a,b,c,d", "0,0,0,5", "-1,0,5,5"):
        with pytest.raises(UsageError, match="x,y,w,h|>= 0"):
            parse_region(bad)


def test_black_out_copies_and_crop_stays_inside_the_image() -> None:
    image = Image.new("RGB", (200, 100), "white")
    out = black_out(image, [Box(left=0, top=0, right=50, bottom=50)])
    assert out.getpixel((10, 10)) == (0, 0, 0) and out.getpixel((60, 60)) == (255, 255, 255)
    assert image.getpixel((10, 10)) == (255, 255, 255)
    assert clamp_box(Point(x=1, y=99), (96, 96), (200, 100)) == Box(left=0, top=4, right=96, bottom=100)
    assert crop_around(image, Point(x=199, y=0)).size == (96, 96)


def test_same_place_allows_a_pressed_key_but_not_a_changed_screen() -> None:
    calm = Image.new("RGB", (96, 96), "white")
    pressed = calm.copy()
    ImageDraw.Draw(pressed).rectangle((28, 35, 68, 61), fill="black")  # an inverted 40x26 key
    other = Image.new("RGB", (96, 96), "navy")                           # a window opened over it
    assert same_place(calm, pressed)
    assert not same_place(calm, other)
    assert not same_place(calm, calm.resize((90, 96)))


def test_hit_test_prefers_the_smallest_box_under_the_point_then_the_nearest() -> None:
    big = Element(id=0, text="panel", box=Box(left=0, top=0, right=500, bottom=500))
    ok = Element(id=1, text="OK", box=Box(left=100, top=100, right=140, bottom=120))
    assert hit_test([big, ok], Point(x=110, y=110)) == ok
    assert hit_test([ok], Point(x=150, y=110)) == ok          # 10 px away
    assert hit_test([ok], Point(x=300, y=300)) is None


def test_ocr_labeler_reads_only_a_band_around_the_point_in_screen_space() -> None:
    engine = FakeOcrEngine([TextLine("Save", Box(left=600, top=400, right=640, bottom=420), 0.9),
                            TextLine("Far away", Box(left=10, top=10, right=80, bottom=30), 0.9)])
    label = OcrLabeler(engine).label(Image.new("RGB", (1280, 800)), Point(x=620, y=410))
    assert label is not None and label.text == "Save" and label.box == Box(left=600, top=400, right=640, bottom=420)
    assert engine.reads == [Box(left=440, top=350, right=800, bottom=470)]


def test_a_failing_ocr_engine_means_no_label_not_an_error() -> None:
    labeler = OcrLabeler(FakeOcrEngine(fail="no OCR here"))
    assert labeler.label(Image.new("RGB", (100, 100)), Point(x=5, y=5)) is None
    assert labeler.error == "no OCR here"


def _writer(recorder: MemoryRecorder) -> _Writer:
    return _Writer(recorder, RecordOptions(display=":0", password_probe=lambda: True), StopFlag())


def test_text_typed_into_an_accessible_password_field_is_redacted() -> None:
    grab = Grab(raw=b"", size=(1, 1), received=0.0, grabbed=0.0)
    answer: Future[bool] = Future()
    answer.set_result(True)
    grab.extra["password"] = answer
    action, notes = _writer(MemoryRecorder())._private(Demonstrated(Type(text="s3cret"), 1.0, 2.0, grab))
    assert action == Type(text=REDACTED) and "password field" in notes[0]
    plain = Grab(raw=b"", size=(1, 1), received=0.0, grabbed=0.0)
    action, notes = _writer(MemoryRecorder())._private(Demonstrated(Type(text="hello"), 1.0, 2.0, plain))
    assert action == Type(text="hello") and notes == []
