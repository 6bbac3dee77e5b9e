"""VirtualDisplay, the desktop backends and doctor on real X servers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from actions.desktop.base import Desktop
from actions.desktop.fake import DryRunDesktop, FakeDesktop
from actions.desktop.x11 import PyAutoGUIDesktop
from agent.display import VirtualDisplay
from tests.conftest import run_cli


def _alive(display: str) -> bool:
    return subprocess.run(["xdpyinfo", "-display", display], capture_output=True).returncode == 0


def test_several_displays_run_at_once_each_with_its_own_home() -> None:
    with VirtualDisplay(size=(800, 600)) as a, VirtualDisplay(size=(1024, 768)) as b:
        assert a.display != b.display
        assert a.env["HOME"] != b.env["HOME"] and Path(a.env["HOME"]).is_dir()
        sizes = [PyAutoGUIDesktop(d.display).geometry() for d in (a, b)]
        assert [(g.width, g.height) for g in sizes] == [(800, 600), (1024, 768)]
        homes = [Path(a.env["HOME"]), Path(b.env["HOME"])]
    assert not _alive(a.display) and not _alive(b.display)
    assert not any(h.exists() for h in homes)


def test_everything_is_torn_down_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with VirtualDisplay(dbus=True) as vd:
            app = vd.launch(["xterm"])
            vd.wait_for_window(name="xterm")
            display, home = vd.display, Path(vd.env["HOME"])
            raise RuntimeError("boom")
    assert app.poll() is not None
    assert not _alive(display) and not home.exists()


def test_a_window_titled_only_in_utf8_is_found_by_its_title(vdisplay: VirtualDisplay) -> None:
    """Chromium sets WM_NAME as UTF8_STRING (and _NET_WM_NAME): a title read as STRING is empty."""
    from Xlib import X
    from Xlib.display import Display

    x = Display(vdisplay.display)
    try:
        utf8 = x.intern_atom("UTF8_STRING")
        win = x.screen().root.create_window(50, 60, 200, 100, 0, x.screen().root_depth, X.InputOutput)
        win.set_wm_class("probe", "Probe")
        title = "uiagent webform: Zoë".encode()
        win.change_property(x.intern_atom("WM_NAME"), utf8, 8, title)
        win.change_property(x.intern_atom("_NET_WM_NAME"), utf8, 8, title)
        win.map()
        x.sync()
        found = vdisplay.wait_for_window(name="webform: zoë", timeout=5)
        assert found.window.title == "uiagent webform: Zoë" and found.window.window_id == win.id
    finally:
        x.close()


def test_an_app_is_responsive_when_it_answers_the_window_managers_ping(vdisplay: VirtualDisplay) -> None:
    """mousepad (GTK) answers _NET_WM_PING at once; stopped, it does not; xcalc (Xaw) takes no part."""
    import os
    import signal

    from agent.display import launch_app, responsive

    gtk = launch_app("mousepad", vdisplay.display, vdisplay.env, launcher=vdisplay.launch)  # waits for it
    assert responsive(vdisplay.display, gtk.window.window_id, timeout=2) is True
    pid = vdisplay._procs[-1].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        assert responsive(vdisplay.display, gtk.window.window_id, timeout=0.5) is False
    finally:
        os.kill(pid, signal.SIGCONT)
    xaw = vdisplay.launch_app("xcalc")
    assert responsive(vdisplay.display, xaw.window.window_id, timeout=0.5) is None


def test_every_backend_conforms_to_the_desktop_protocol(vdisplay: VirtualDisplay) -> None:
    real = PyAutoGUIDesktop(vdisplay.display)
    for backend in (real, FakeDesktop(), DryRunDesktop(real)):
        assert isinstance(backend, Desktop)
        geometry = backend.geometry()
        shot = backend.capture()
        assert shot.size == (geometry.width, geometry.height)
        backend.active_window()
        backend.cursor()


def test_doctor_is_happy_inside_a_virtual_display() -> None:
    r = run_cli("doctor", "--virtual", "--json", env={"DISPLAY": ""})
    assert r.returncode == 0, r.stderr
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["display"]["ok"] and "1280x800" in checks["display"]["detail"]
    assert checks["XTEST"]["ok"] and checks["RECORD"]["ok"]
    assert checks["window manager"]["detail"] == "Openbox"
    assert not checks["key ANTHROPIC_API_KEY"]["ok"] or "set" == checks["key ANTHROPIC_API_KEY"]["detail"]


def test_doctor_never_prints_key_values() -> None:
    r = run_cli("doctor", "--virtual", "--json", env={"DISPLAY": "", "ANTHROPIC_API_KEY": "sk-ant-very-secret"})
    assert r.returncode == 0 and "sk-ant-very-secret" not in r.stdout + r.stderr
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["key ANTHROPIC_API_KEY"] == {**checks["key ANTHROPIC_API_KEY"], "ok": True, "detail": "set"}
