"""Perception of a dense real application: LibreOffice Calc at 1920x1080 on a real Xvfb with a
session bus. Its menus come from accessibility (the sheet's millions of cells are never walked),
typed cell values from OCR, and reading its tree prints no dbus-next traceback."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator

import pytest

from actions.desktop.x11 import PyAutoGUIDesktop
from agent.display import VirtualDisplay
from agent.perception.a11y import A11yReader
from agent.perception.elements import Element
from agent.perception.observation import Observation
from agent.perception.ocr import RapidOcrEngine
from agent.perception.perceiver import ScreenPerceiver
from tests.apps.libreoffice import start_calc
from tests.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.real_app]


@pytest.fixture
def calc(display_binaries: None) -> Iterator[VirtualDisplay]:
    with VirtualDisplay(size=(1920, 1080), window_manager=True, dbus=True) as vd:
        start_calc(vd)
        yield vd


def _named(obs: Observation, text: str, source: str) -> Element | None:
    return next((e for e in obs.elements if e.text == text and e.source == source), None)


def _observe_until(perceiver: ScreenPerceiver, text: str, source: str, what: str, timeout: float) -> Observation:
    def seen() -> Observation | None:
        obs = perceiver.observe()
        return obs if _named(obs, text, source) else None
    found = wait_until(seen, timeout=timeout, what=what)
    assert isinstance(found, Observation)
    return found


def test_calc_menus_come_from_accessibility_and_typed_cells_from_ocr(
        calc: VirtualDisplay, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    desktop = PyAutoGUIDesktop(calc.display)
    reader = A11yReader(calc.env["DBUS_SESSION_BUS_ADDRESS"])
    perceiver = ScreenPerceiver(desktop, ocr=RapidOcrEngine(), a11y=reader)
    try:
        obs = _observe_until(perceiver, "File", "a11y", "Calc's File menu in the accessibility tree", 60)
        file_menu = _named(obs, "File", "a11y")
        assert file_menu is not None and file_menu.role == "menu" and file_menu.box.top < 60
        report = perceiver.last_report.a11y
        assert report is not None and not report.failed and report.skipped >= 1  # the sheet's cells
        assert report.nodes < 2000
        assert _named(obs, "Save", "a11y") is not None  # a toolbar button, by its accessible name

        cell = desktop.geometry()  # click into the sheet (B3-ish), then type as a user would
        subprocess.run(["xdotool", "mousemove", "200", "260", "click", "1"], env=calc.env, check=True)
        subprocess.run(["xdotool", "type", "--delay", "12", "4217"], env=calc.env, check=True)
        subprocess.run(["xdotool", "key", "Return"], env=calc.env, check=True)
        typed = _observe_until(perceiver, "4217", "ocr", "the typed value read by OCR", 30)
        value = _named(typed, "4217", "ocr")
        assert value is not None and 200 <= value.box.top <= 300 and value.box.right <= cell.width
        assert _named(typed, "File", "a11y") is not None  # the unchanged menu bar, reused
        assert not typed.notes, typed.notes
    finally:
        desktop.close()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BlockingIOError" not in err, err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "dbus" in (r.pathname + r.name)]
