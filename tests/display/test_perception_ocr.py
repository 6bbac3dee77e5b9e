"""Perception on real apps under Xvfb: OCR grounding on xcalc, xterm and the Tk form, and
accessibility boxes on galculator. One OCR engine for the module (loading it costs ~1.5 s); OCR
runs on the app's window only, to keep these tests fast."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from actions.desktop.base import Screenshot
from actions.desktop.x11 import PyAutoGUIDesktop
from actions.executor import Executor
from actions.models import Box, Click, Type
from agent.display import VirtualDisplay, WindowGeometry
from agent.perception.a11y import A11yReader
from agent.perception.elements import Element
from agent.perception.ocr import RapidOcrEngine, find
from agent.perception.ocr_cache import OcrReader
from agent.perception.regions import overlap_small
from agent.perception.settle import settle
from tests.conftest import APPS, wait_until


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    e = RapidOcrEngine()
    e.load()
    return e


def window_shot(desktop: PyAutoGUIDesktop, win: WindowGeometry) -> Screenshot:
    full = desktop.capture()
    crop = full.image.crop((win.left, win.top, win.left + win.width, win.top + win.height))
    return Screenshot(image=crop, left=win.left, top=win.top)


def read_window(reader: OcrReader, desktop: PyAutoGUIDesktop, win: WindowGeometry) -> list[Element]:
    return reader.read(window_shot(desktop, win)).elements()


def click_label(executor: Executor, elements: list[Element], label: str, within: Box | None = None) -> None:
    match = find(elements, label, within=within)
    assert not match.ambiguous, match.reason
    assert match.best is not None, match.reason
    assert match.best.text == label, f"{label!r} grounded on {match.best.text!r}: {match.reason}"
    result = executor.execute(Click(x=match.best.box.center.x, y=match.best.box.center.y))
    assert result.ok, result.describe()


def test_xcalc_buttons_are_found_and_clicking_them_computes_42(
        vdisplay: VirtualDisplay, desktop: PyAutoGUIDesktop, engine: RapidOcrEngine) -> None:
    vdisplay.launch(["xcalc"])
    win = vdisplay.wait_for_window(name="xcalc")
    settle(desktop, timeout_s=5)
    reader = OcrReader(engine)
    elements = read_window(reader, desktop, win)
    texts = {e.text for e in elements}
    assert {str(d) for d in range(10)} <= texts, texts
    assert {"+", "="} <= texts, texts
    display_before = [e for e in elements if e.box.top < win.top + 60]
    zero = find(elements, "0")
    assert zero.ambiguous, zero.reason  # the display's "0" and the key "0"
    executor = Executor(desktop)
    keypad = Box(left=win.left, top=win.top + 70, right=win.left + win.width, bottom=win.top + win.height)
    for label in ("1", "2", "+", "3", "0", "="):
        click_label(executor, elements, label, within=keypad)
        settle(desktop, timeout_s=2)
    after = read_window(reader, desktop, win)
    display = [e.text for e in after if e.box.top < win.top + 60]
    assert "42" in display, (display_before, display)


def test_text_typed_into_xterm_is_read_back(vdisplay: VirtualDisplay, desktop: PyAutoGUIDesktop,
                                            engine: RapidOcrEngine) -> None:
    vdisplay.launch(["xterm", "-fa", "DejaVu Sans Mono", "-fs", "12", "-geometry", "60x8+50+50"])
    win = vdisplay.wait_for_window(name="xterm")
    reader = OcrReader(engine)
    wait_until(lambda: any("#" in e.text or "$" in e.text for e in read_window(reader, desktop, win)),
               timeout=15, what="the xterm prompt")
    executor = Executor(desktop)
    assert executor.execute(Click(x=win.left + win.width // 2, y=win.top + win.height // 2)).ok
    assert executor.execute(Type(text="echo perception works 42")).ok
    found = wait_until(lambda: find(read_window(reader, desktop, win), "echo perception works 42").best,
                       timeout=10, what="the typed text on screen")
    assert isinstance(found, Element) and found.box.left >= win.left and found.box.bottom <= win.top + win.height


@pytest.mark.parametrize("layout", ["default", "alt"])
def test_form_labels_are_found_inside_their_widgets(vdisplay: VirtualDisplay, desktop: PyAutoGUIDesktop,
                                                    engine: RapidOcrEngine, tmp_path: Path, layout: str) -> None:
    out = tmp_path / "form.txt"
    vdisplay.launch([sys.executable, str(APPS / "form.py"), "--out", str(out), "--layout", layout])
    wait_until(lambda: out.exists() and "ready" in out.read_text(), what="the form to start")
    win = vdisplay.wait_for_window(name="uiagent form")
    widgets = [json.loads(line.split(" ", 1)[1]) for line in out.read_text().splitlines()
               if line.startswith("widgets ")][-1]
    elements = read_window(OcrReader(engine), desktop, win)
    for w in widgets:
        widget = Box(left=w["box"][0], top=w["box"][1], right=w["box"][2], bottom=w["box"][3])
        match = find(elements, w["text"], within=widget)
        assert match.best is not None, f"{w['text']!r}: {match.reason}; read {[e.text for e in elements]}"
        assert overlap_small(match.best.box, widget) > 0.8, (w, match.best)
    submit = find(elements, "Submit").best
    assert submit is not None
    assert Executor(desktop).execute(Click(x=submit.box.center.x, y=submit.box.center.y)).ok
    wait_until(lambda: "submit " in out.read_text(), what="the form to see the click on Submit")


@pytest.fixture
def busdisplay(display_binaries: None) -> Iterator[VirtualDisplay]:
    with VirtualDisplay(size=(1280, 800), window_manager=True, dbus=True) as vd:
        yield vd


def test_galculator_accessibility_gives_exact_button_boxes(busdisplay: VirtualDisplay,
                                                           engine: RapidOcrEngine) -> None:
    busdisplay.launch(["galculator"])
    win = busdisplay.wait_for_window(name="galculator")
    reader = A11yReader(busdisplay.env["DBUS_SESSION_BUS_ADDRESS"], app_names=("galculator",))
    result = wait_until(lambda: (r := reader.read()) and any(e.text == "7" for e in r.elements) and r,
                        timeout=15, what="galculator in the accessibility tree")
    buttons = {e.text: e for e in result.elements if e.role.endswith("button")}
    assert {str(d) for d in range(10)} | {"+", "-", "*", "/", "="} <= set(buttons)
    for b in buttons.values():  # inside the window, and no two buttons overlap
        assert win.left <= b.box.left and b.box.right <= win.left + win.width
        assert win.top <= b.box.top and b.box.bottom <= win.top + win.height
    boxes = list(buttons.values())
    assert all(overlap_small(a.box, b.box) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1:])
    desktop = PyAutoGUIDesktop(busdisplay.display)
    try:
        executor = Executor(desktop)
        for label in ("7", "*", "6", "="):
            assert executor.execute(Click(x=buttons[label].box.center.x, y=buttons[label].box.center.y)).ok
        display = next(e for e in result.elements if e.role == "textbox")
        reader_ocr = OcrReader(engine)
        wait_until(lambda: "42" in [e.text for e in reader_ocr.read(_crop(desktop, display.box)).elements()],
                   timeout=10, what="42 in galculator's display")
    finally:
        desktop.close()


def _crop(desktop: PyAutoGUIDesktop, box: Box) -> Screenshot:
    image = desktop.capture().image.crop((box.left, box.top, box.right, box.bottom))
    return Screenshot(image=image, left=box.left, top=box.top)


class CountingEngine(RapidOcrEngine):
    """The real engine, counting the line images it is asked to recognise."""

    recognised = 0

    def recognise_all(self, crops):  # type: ignore[no-untyped-def]
        self.recognised += len(crops)
        return super().recognise_all(crops)


def test_lines_that_scrolled_in_xterm_are_not_recognised_again(vdisplay: VirtualDisplay,
                                                                desktop: PyAutoGUIDesktop) -> None:
    engine = CountingEngine()
    vdisplay.launch(["xterm", "-fa", "DejaVu Sans Mono", "-fs", "12", "-geometry", "60x8+50+50"])
    win = vdisplay.wait_for_window(name="xterm")
    executor = Executor(desktop)
    assert executor.execute(Click(x=win.left + win.width // 2, y=win.top + win.height // 2)).ok
    assert executor.execute(Type(text="for i in 1 2 3 4 5 6; do echo row $i of the test; done\n")).ok
    reader = OcrReader(engine)
    wait_until(lambda: find(read_window(reader, desktop, win), "row 6 of the test").best,
               timeout=15, what="six rows of output")
    before = engine.recognised
    assert executor.execute(Type(text="echo next\n")).ok  # 8 rows: everything scrolls up by two
    settle(desktop, timeout_s=3)
    after = read_window(reader, desktop, win)
    texts = [e.text for e in after]
    assert "row 1 of the test" not in texts, f"the terminal did not scroll: {texts}"
    assert {f"row {i} of the test" for i in range(2, 7)} | {"next"} <= set(texts), texts
    # the new prompt, the command and its output; the rows that only moved up came from memory
    assert engine.recognised - before <= 4, engine.recognised - before
