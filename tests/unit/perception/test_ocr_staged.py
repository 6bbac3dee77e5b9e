"""The staged OCR read: detection, recognition and second looks on one queue of workers."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest
from PIL import Image

from actions.desktop.base import Screenshot
from actions.desktop.fake import FakeDesktop
from actions.models import Box
from agent.perception.a11y import A11yReader, A11yResult
from agent.perception.elements import Element
from agent.perception.ocr import FakeOcrEngine, OcrUnavailable, TextLine
from agent.perception.ocr_cache import OcrReader
from agent.perception.ocr_staged import Crop, Memory, Skip, StagedRead
from agent.perception.perceiver import ScreenPerceiver


def box(left: int, top: int, right: int, bottom: int) -> Box:
    return Box(left=left, top=top, right=right, bottom=bottom)


class ScriptedEngine:
    """A staged engine: each crop holds lines 20 px high whose width is their text's length x 40;
    a line image's text is found by its width. Records every recognition batch."""

    name = "scripted"
    workers = 2
    rec_width = 96
    text_score = 0.4

    def __init__(self, texts: Sequence[str], fail: str | None = None) -> None:
        self.texts = {len(t) * 40: t for t in texts}
        self.batches: list[list[str]] = []
        self.fail = fail
        self.lock = threading.Lock()
        self.first_batch = threading.Event()

    def load(self) -> None:
        pass

    def read(self, image: Image.Image) -> list[TextLine]:
        raise AssertionError("a staged read does not call read()")

    def detect(self, image: Image.Image) -> list[tuple[Box, np.ndarray]]:
        found, y = [], 2
        for width in sorted(self.texts):
            found.append((box(2, y, 2 + width, y + 20), np.zeros((20, width, 3), np.uint8)))
            y += 24
        return found

    def recognise_all(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        if self.fail:
            raise OcrUnavailable(self.fail)
        texts = [self.texts.get(c.shape[1], "?") for c in crops]
        with self.lock:
            self.batches.append(texts)
        self.first_batch.set()
        return [(t, 0.99) for t in texts]

    def lines(self, found: Sequence[tuple[Box, np.ndarray]], texts: Sequence[tuple[str, float]]) -> list[TextLine]:
        return [TextLine(text=t, box=b, confidence=s) for (b, _), (t, s) in zip(found, texts) if t]


def crop_of(band: Box) -> Crop:
    image = Image.new("RGB", (band.width, band.height), "white")
    ink = np.full((band.height, band.width), 255, np.uint8)
    for i in range(0, band.height - 24, 24):  # ink under each scripted line, so boxes keep their size
        ink[2 + i:22 + i, 2:band.width - 2] = 0
    return Crop(band, image, ink)


def memory() -> Memory:
    seen: dict[bytes, tuple[str, float]] = {}
    return Memory(recall=seen.get, keep=seen.__setitem__)


def test_every_line_is_recognised_once_widest_batches_first() -> None:
    texts = ["a", "bb", "a long line of text here", "ccc"]
    engine = ScriptedEngine(texts)
    crops = [crop_of(box(0, 0, 1200, 100))]
    lines = StagedRead(engine, crops, Skip(None, (0, 0)), memory(), tighten=False).run()
    assert sorted(ln.text for ln in lines[0]) == sorted(texts)
    assert sorted(t for b in engine.batches for t in b) == sorted(texts)
    assert engine.batches[0] == ["a long line of text here"]  # the short ones (icons, glyphs) come last


def test_lines_inside_boxes_known_during_the_read_are_not_recognised_nor_kept() -> None:
    engine = ScriptedEngine(["a long line of text here", "ok", "x"])
    known: list[Box] = []

    def later() -> list[Box]:
        if engine.first_batch.is_set():  # accessibility named the short ones meanwhile
            known.append(box(0, 0, 200, 80))
        return list(known)
    skip = Skip(later, (0, 0))
    lines = StagedRead(engine, [crop_of(box(0, 0, 1200, 100))], skip, memory(), tighten=False).run()
    assert [ln.text for ln in lines[0]] == ["a long line of text here"]
    assert "x" not in {t for b in engine.batches for t in b} and skip.count >= 1


def test_a_failing_recogniser_fails_the_read_with_a_note() -> None:
    engine = ScriptedEngine(["abc"], fail="no models here")
    image = Image.new("RGB", (400, 100), "white")
    image.paste((0, 0, 0), (10, 10, 100, 30))
    result = OcrReader(engine).read(Screenshot(image=image))
    assert result.error == "no models here" and result.lines == ()
    with pytest.raises(OcrUnavailable):
        StagedRead(engine, [crop_of(box(0, 0, 400, 100))], Skip(None, (0, 0)), memory()).run()


class _WalkThatFails(A11yReader):
    """Streams one named button, then fails (a bus that went away mid-walk)."""

    def __init__(self, streamed: threading.Event, button: Box) -> None:
        super().__init__("unix:path=/nonexistent")
        self.streamed, self.button = streamed, button

    def read(self, changed: Sequence[Box] | None = None, found=None) -> A11yResult:  # type: ignore[no-untyped-def]
        if found is not None:
            found(Element(id=0, text="Print", role="button", box=self.button, source="a11y"))
        self.streamed.set()
        return A11yResult((), error="accessibility unavailable: BusError: gone", failed=True)


class _OcrAfterTheStream(FakeOcrEngine):
    def __init__(self, lines: Sequence[TextLine], streamed: threading.Event) -> None:
        super().__init__(lines)
        self.streamed = streamed

    def read(self, image: Image.Image) -> list[TextLine]:
        self.streamed.wait(5)
        return super().read(image)


def test_lines_skipped_for_a_walk_that_then_failed_are_read_after_all() -> None:
    image = Image.new("RGB", (1280, 800), "white")
    for x in (102, 400):
        image.paste((0, 0, 0), (x, 60, x + 30, 72))
    lines = [TextLine(t, box(x, 60, x + 30, 72), 0.99) for t, x in (("Pr", 102), ("Total", 400))]
    streamed = threading.Event()
    perceiver = ScreenPerceiver(FakeDesktop(frames=[image]), ocr=_OcrAfterTheStream(lines, streamed),
                                a11y=_WalkThatFails(streamed, box(98, 56, 136, 76)))
    obs = perceiver.observe()
    assert {(e.text, e.source) for e in obs.elements} == {("Pr", "ocr"), ("Total", "ocr")}
    assert any("OCR only" in n for n in obs.notes) and "ocr_again" in perceiver.last_report.timings_ms
