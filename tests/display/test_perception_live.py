"""Settle against a real animation, capture on a real screen, and bad input (no display, a bad
monitor index, a blank screen) under Xvfb. No OCR model is loaded here."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from actions.desktop.x11 import PyAutoGUIDesktop
from actions.errors import DisplayError
from actions.executor import Executor
from actions.models import Click
from agent.display import VirtualDisplay
from agent.perception.capture import capture_frame
from agent.perception.ocr import FakeOcrEngine, RapidOcrEngine
from agent.perception.perceiver import ScreenPerceiver
from agent.perception.settle import settle
from tests.conftest import APPS, wait_until


def _times(out: Path, kind: str) -> list[float]:
    return [float(line.split()[1]) for line in out.read_text().splitlines() if line.startswith(kind + " ")]


def test_settle_returns_promptly_on_a_still_screen(clickpad: Path, desktop: PyAutoGUIDesktop) -> None:
    settle(desktop, timeout_s=5)  # let the app finish drawing
    result = settle(desktop, timeout_s=5)
    assert not result.timed_out and result.waited_s < 0.25, result


def test_settle_waits_for_an_animation_to_end(vdisplay: VirtualDisplay, desktop: PyAutoGUIDesktop,
                                              tmp_path: Path) -> None:
    out = tmp_path / "animate.txt"
    vdisplay.launch([sys.executable, str(APPS / "animate.py"), str(out), "--duration", "0.8"])
    wait_until(lambda: out.exists() and "ready" in out.read_text(), what="the animation app")
    vdisplay.wait_for_window(name="animate")
    settle(desktop, timeout_s=5)
    before = desktop.capture()
    assert Executor(desktop).execute(Click(x=640, y=400)).ok
    result = settle(desktop, before=before, expect_change_s=1.0, timeout_s=5)
    returned = time.monotonic()
    wait_until(lambda: _times(out, "stop"), what="the animation to report its end")
    start, stop = _times(out, "start")[-1], _times(out, "stop")[-1]
    assert stop - start >= 0.75
    assert not result.timed_out
    assert returned >= stop, f"settle returned {stop - returned:.3f}s before the animation ended"
    assert returned - stop < 0.4, f"settle returned {returned - stop:.3f}s after the animation ended"
    assert result.changed is not None and result.changed.top < 100  # the moving box's band


def test_capture_frame_on_a_real_screen(desktop: PyAutoGUIDesktop) -> None:
    frame = capture_frame(desktop, size=(640, 400), fmt="png")
    assert frame.image.size == (640, 400) and frame.encoded.data.startswith(b"\x89PNG")


def test_no_display_is_a_clear_error() -> None:
    with pytest.raises(DisplayError, match="cannot open display"):
        PyAutoGUIDesktop(":987")


def test_a_bad_monitor_index_is_a_clear_error(desktop: PyAutoGUIDesktop) -> None:
    with pytest.raises(DisplayError, match="no monitor 7"):
        capture_frame(desktop, monitor=7)
    with pytest.raises(DisplayError, match="no monitor 7"):
        ScreenPerceiver(desktop, ocr=FakeOcrEngine(), monitor=7).observe()


def test_a_blank_screen_gives_no_elements_and_says_why(desktop: PyAutoGUIDesktop) -> None:
    engine = RapidOcrEngine()  # never loaded: a blank screen has nothing to read
    obs = ScreenPerceiver(desktop, ocr=engine).observe()
    assert obs.elements == () and any("blank" in n for n in obs.notes), obs.notes
    assert not engine.loaded
