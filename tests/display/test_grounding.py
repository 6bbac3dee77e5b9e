"""Grounding that prefers what can be acted on, on a real xcalc (OCR only, no accessibility): the
same key twice, a key whose digit the display shows too, and the instruction language's choosers.
What the calculator computed is read back from its display by OCR."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actions.desktop.x11 import PyAutoGUIDesktop
from agent.display import VirtualDisplay, WindowGeometry
from agent.perception.ocr import RapidOcrEngine
from agent.perception.ocr_cache import OcrReader
from agent.perception.settle import settle
from agent.perception.widgets import framed_buttons, interactive
from agent.recording.format import load_recording
from tests.conftest import json_summary, run_cli

pytestmark = pytest.mark.display


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    e = RapidOcrEngine()
    e.load()
    return e


@pytest.fixture
def xcalc(vdisplay: VirtualDisplay) -> Iterator[WindowGeometry]:
    yield vdisplay.launch_app(["xcalc", "-geometry", "+300+100"])


def readout(vdisplay: VirtualDisplay, win: WindowGeometry, engine: RapidOcrEngine) -> str:
    """What xcalc's display shows: the text OCR reads above its keys that is not a key."""
    desktop = PyAutoGUIDesktop(vdisplay.display)
    try:
        shot = settle(desktop, timeout_s=3).screenshot
    finally:
        desktop.close()
    elements = framed_buttons(OcrReader(engine).read(shot).elements(), shot)
    inside = [e for e in elements if win.left <= e.box.center.x < win.left + win.width
              and win.top <= e.box.center.y < win.top + win.height]
    keys_top = min(e.box.top for e in inside if interactive(e))
    shown = [e.text for e in inside if not interactive(e) and e.box.bottom <= keys_top
             and any(c.isdigit() for c in e.text)]
    assert len(shown) == 1, (shown, [e.describe() for e in inside])
    return shown[0]


def do(vdisplay: VirtualDisplay, task: str, tmp_path: Path) -> dict[str, object]:
    r = run_cli("do", task, "--record-dir", str(tmp_path), "--json", env=vdisplay.env, timeout=120)
    summary = json_summary(r.stdout)
    summary["returncode"], summary["stderr"] = r.returncode, r.stderr
    return summary


def clicked_roles(summary: dict[str, object]) -> list[str | None]:
    rec = load_recording(str(summary["recording"]))
    return [a.target.role for s in rec.steps for a in s.actions if a.kind == "click" and a.target]


@pytest.mark.parametrize("task, shown", [
    ("click 7, click 7", "77"),
    ("click 1, click +, click 1, click =", "2"),
])
def test_keys_the_display_also_shows_are_clicked_on_the_keypad(vdisplay: VirtualDisplay, xcalc: WindowGeometry,
                                                                engine: RapidOcrEngine, tmp_path: Path,
                                                                task: str, shown: str) -> None:
    summary = do(vdisplay, task, tmp_path)
    assert summary["returncode"] == 0 and summary["status"] == "done", summary
    assert set(clicked_roles(summary)) == {"push button"}  # every click hit a key, never the display
    assert readout(vdisplay, xcalc, engine) == shown


def test_the_instruction_language_chooses_which_one(vdisplay: VirtualDisplay, xcalc: WindowGeometry,
                                                    engine: RapidOcrEngine, tmp_path: Path) -> None:
    # after the first 7 the display shows 7 above the key 7: the 2nd 7 in reading order is the key
    summary = do(vdisplay, "click the button 7, click the 2nd 7, click 8 in the keypad, click 5 below 8, "
                           "click + , click the key 1, click =", tmp_path)
    assert summary["returncode"] == 0 and summary["status"] == "done", summary
    assert readout(vdisplay, xcalc, engine) == "7786"  # 7785 + 1


def test_a_choice_that_matches_nothing_fails_the_step_naming_it(vdisplay: VirtualDisplay, xcalc: WindowGeometry,
                                                                tmp_path: Path) -> None:
    summary = do(vdisplay, "click the 3rd 7", tmp_path)
    assert summary["returncode"] == 1 and summary["status"] == "failed"
    assert str(summary["reason"]).startswith("'click the 3rd 7': no 3rd '7': 1 on screen (button '7' at (")
    assert "Traceback" not in str(summary["stderr"])
