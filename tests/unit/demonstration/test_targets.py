"""Targets of recorded pointer actions (crop, label, bbox), black-outs, regions and the a11y password rule."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from PIL import Image, ImageDraw

from actions.errors import UsageError
from actions.models import Box, Click, Point, Type
from agent.demonstration.listener import Grab
from agent.demonstration.merge import Demonstrated
from agent.demonstration.session import RecordOptions, StopFlag, _Writer
from agent.demonstration.targets import (
    OcrLabeler,
    black_out,
    clamp_box,
    crop_around,
    hit_test,
    parse_region,
    same_place,
)
from agent.perception.elements import Element
from agent.perception.ocr import FakeOcrEngine, TextLine
from agent.recording.format import REDACTED
from agent.recording.writer import MemoryRecorder


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


def _screen(pressed: bool = False, colour: str = "white") -> Image.Image:
    image = Image.new("RGB", (300, 200), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((130, 85, 170, 111), outline="black", fill="black" if pressed else colour)  # a key
    return image


def _grab(image: Image.Image, t: float) -> Grab:
    return Grab(raw=image.convert("RGBA").tobytes("raw", "BGRA"), size=image.size, received=t, grabbed=t + 0.005)


def test_a_target_is_cut_from_the_quiet_screen_before_its_press_not_the_pressed_key() -> None:
    recorder = MemoryRecorder()
    writer = _writer(recorder)
    writer._quiet.extend([_grab(_screen(), 1.0), _grab(_screen(pressed=True), 2.0)])  # the 2nd: after the press
    click = Click(x=150, y=98)
    action, _ = writer._target(click, _screen(pressed=True), Point(x=150, y=98), started=1.5)
    crop = recorder.crops[action.target.crop_hash]
    assert crop.getpixel((48, 48)) == (255, 255, 255)  # the key as replay will see it, not inverted


def test_a_quiet_screen_that_shows_something_else_there_is_not_used() -> None:
    recorder = MemoryRecorder()
    writer = _writer(recorder)
    writer._quiet.append(_grab(_screen(colour="navy"), 1.0))  # a window covered the spot back then
    writer._previous_end = 0.5
    action, _ = writer._target(Click(x=150, y=98), _screen(pressed=True), Point(x=150, y=98), started=1.5)
    assert recorder.crops[action.target.crop_hash].getpixel((48, 48)) == (0, 0, 0)  # the press frame's
    writer._previous_end = 1.2  # and a quiet frame from before the previous action is never used
    writer._quiet.append(_grab(_screen(), 1.1))
    action, _ = writer._target(Click(x=150, y=98), _screen(pressed=True), Point(x=150, y=98), started=1.5)
    assert recorder.crops[action.target.crop_hash].getpixel((48, 48)) == (0, 0, 0)


class _ScriptedGrabber:
    """Hands out grabs of the given screens in turn; `on_grab(n)` runs as grab n is taken."""

    def __init__(self, screens: list[Image.Image], on_grab=lambda n: None) -> None:  # type: ignore[no-untyped-def]
        self.screens, self.on_grab, self.n = screens, on_grab, 0

    def grab(self) -> Grab:
        import time
        screen = self.screens[min(self.n, len(self.screens) - 1)]
        self.on_grab(self.n)
        self.n += 1
        t = time.monotonic()
        return _grab(screen, t)

    def close(self) -> None:
        pass


def test_the_quiet_frame_is_the_settled_screen_and_never_one_grabbed_as_a_press_came_in() -> None:
    from types import SimpleNamespace

    writer = _writer(MemoryRecorder())
    writer._released.clear()
    settled, pressed = _screen(), _screen(pressed=True)
    writer._grabbers["quiet"] = _ScriptedGrabber([_screen(colour="gray"), settled])  # type: ignore[assignment]
    writer._settle_quietly()
    assert len(writer._quiet) == 1 and writer._quiet[-1].raw == _grab(settled, 0).raw

    source = SimpleNamespace(last_press=0.0)
    writer.source = source  # type: ignore[assignment]

    def press_during(n: int) -> None:
        if n == 2:
            source.last_press = 1.0
    writer._grabbers["quiet"] = _ScriptedGrabber([_screen(colour="gray"), settled, pressed],  # type: ignore[assignment]
                                                 press_during)
    writer._settle_quietly()
    assert len(writer._quiet) == 2 and writer._quiet[-1].raw == _grab(settled, 0).raw
