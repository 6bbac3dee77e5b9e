"""Shared fixtures. Display tests get a real Xvfb (+ openbox) per test, private HOME included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actions.desktop.x11 import PyAutoGUIDesktop
from agent.display import VirtualDisplay

pytest_plugins = ["pytester"]  # the plugin's own tests (tests/plugin) run pytest inside pytest

APPS = Path(__file__).parent / "apps"
REQUIRED_BINARIES = ("Xvfb", "openbox", "xdotool", "xterm", "xcalc", "bwrap", "mousepad", "localc", "dbus-daemon")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under tests/display/ are display tests. A missing binary is a failure, not a skip:
    CI installs them all, so a missing one means the setup script is broken."""
    for item in items:
        if "/display/" in str(item.fspath):
            item.add_marker(pytest.mark.display)


@pytest.fixture(scope="session")
def display_binaries() -> None:
    missing = [b for b in REQUIRED_BINARIES if not shutil.which(b)]
    assert not missing, f"missing binaries {missing}: run scripts/setup.sh"


@pytest.fixture
def vdisplay(display_binaries: None) -> Iterator[VirtualDisplay]:
    with VirtualDisplay(size=(1280, 800), window_manager=True) as vd:
        yield vd


@pytest.fixture
def desktop(vdisplay: VirtualDisplay) -> Iterator[PyAutoGUIDesktop]:
    d = PyAutoGUIDesktop(vdisplay.display)
    yield d
    d.close()


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll `predicate` until truthy (a wait on an observable condition, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


@pytest.fixture
def clickpad(vdisplay: VirtualDisplay, tmp_path: Path) -> Path:
    """Start the clickpad app; returns the file it appends clicks and keys to."""
    out = tmp_path / "clickpad.txt"
    vdisplay.launch([sys.executable, str(APPS / "clickpad.py"), str(out)])
    wait_until(lambda: out.exists() and "ready" in out.read_text(), what="clickpad to start")
    vdisplay.wait_for_window(name="clickpad")
    return out


def json_summary(stdout: str) -> dict[str, Any]:
    """The one JSON summary line a `--json` run prints last."""
    summary: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return summary


def has_window(vd: VirtualDisplay, name: str, timeout: float = 0.5) -> bool:
    """Whether a window named `name` is up within `timeout`; a window that goes away while being
    looked at (LibreOffice's splash) is none."""
    try:
        vd.wait_for_window(name=name, timeout=timeout)
    except Exception:  # DisplayError (not there), Xlib BadWindow (it went away meanwhile)
        return False
    return True


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
            input: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `uiagent` console script in a subprocess (in `cwd`: launched apps start there)."""
    exe = Path(sys.executable).parent / "uiagent"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, input=input, cwd=cwd)
