"""Bad luck on real apps (issue 13): an app that never reacts (frozen), a window that closes while
being typed into, an accessibility bus that dies mid-run. Each is a clear step error or a note, the
run goes on or ends with the right exit code, and what was recorded stays loadable."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.display import VirtualDisplay
from agent.recording.format import load_recording
from tests.conftest import APPS, json_summary, run_cli, wait_until

pytestmark = pytest.mark.real_app



def _delayed(vd: VirtualDisplay, tmp_path: Path, *args: str) -> tuple[Path, object]:
    out = tmp_path / "delayed.txt"
    proc = vd.launch([sys.executable, str(APPS / "delayed.py"), str(out), "--delay-ms", "100", *args])
    wait_until(lambda: out.exists() and "ready" in out.read_text(), what="the delayed app")
    vd.wait_for_window(name="uiagent delayed")
    return out, proc


def test_a_frozen_app_fails_the_step_that_expected_its_reaction(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    out, proc = _delayed(vdisplay, tmp_path)
    os.kill(proc.pid, signal.SIGSTOP)  # type: ignore[attr-defined]
    try:
        r = run_cli("do", "click Submit, verify 'submitted 1'", "--record-dir", str(tmp_path / "rec"), "--json",
                    env=vdisplay.env, timeout=120)
    finally:
        os.kill(proc.pid, signal.SIGCONT)  # type: ignore[attr-defined]
    summary = json_summary(r.stdout)
    assert r.returncode == 1 and summary["status"] == "failed", r.stdout[-800:] + r.stderr[-800:]
    assert summary["reason"].startswith("'click Submit': nothing changed on screen within 1 s after click")
    assert "Traceback" not in r.stderr
    rec = load_recording(summary["recording"])
    assert [res.status for s in rec.steps for res in s.results][0] == "performed"
    assert rec.session.outcome.status == "failed"


def test_a_window_that_closes_while_typed_into_gets_no_more_keys(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    out, _ = _delayed(vdisplay, tmp_path, "--close-after-keys", "5")
    text = "abcdefghijklmnopqrstuvwxyz" * 8  # ~1 s of typing: the window closes early in it
    r = run_cli("do", f"type '{text}'", "--record-dir", str(tmp_path / "rec"), "--json",
                env=vdisplay.env, timeout=120)
    summary = json_summary(r.stdout)
    assert r.returncode == 1 and summary["status"] == "failed", r.stdout[-800:] + r.stderr[-800:]
    assert "closed" in out.read_text()
    typed = [res for s in load_recording(summary["recording"]).steps for res in s.results][0]
    assert typed.status == "failed" and "lost the focus while typing (it closed)" in (typed.error or "")
    sent = int((typed.error or "").split(": ")[1].split(" of ")[0])
    assert 5 <= sent < len(text) // 2  # stopped soon after the window went away, not at the end


@pytest.fixture
def busdisplay(display_binaries: None) -> Iterator[VirtualDisplay]:
    with VirtualDisplay(size=(1280, 800), window_manager=True, dbus=True) as vd:
        yield vd


def _accessibility_bus(session_address: str) -> list[int]:
    """The processes of the accessibility bus that `session_address` started (the launcher, its bus
    daemon and the registry): dbus activation gives each the session bus's address."""
    found, parents = [], {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes().split(b"\0")
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"at-spi" in cmdline and f"DBUS_STARTER_ADDRESS={session_address}".encode() in environ:
            found.append(int(entry.name))
    return found + [pid for pid, parent in parents.items() if parent in found]  # the launcher's bus daemon


def test_an_accessibility_bus_that_dies_mid_run_leaves_ocr_and_a_note(busdisplay: VirtualDisplay,
                                                                      tmp_path: Path) -> None:
    """The accessibility bus (launcher, bus daemon, registry) is killed after the first step. The
    next call through the session bus starts a new one (dbus activation), where mousepad is not
    registered: the next typing is read back by OCR instead, the run goes on, nothing is printed."""
    session = busdisplay.env["DBUS_SESSION_BUS_ADDRESS"]
    task = "type 'one', wait 3 seconds, type 'two', verify 'onetwo'"
    import threading

    rec_dir = tmp_path / "rec"

    killed: list[int] = []

    def kill_bus_after_the_first_step() -> None:
        wait_until(lambda: any(p.stat().st_size for p in rec_dir.glob("*/steps.jsonl")), timeout=120,
                   what="the first step")
        for pid in _accessibility_bus(session):  # the session bus stays: GTK apps quit without it
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    killer = threading.Thread(target=kill_bus_after_the_first_step, daemon=True)
    killer.start()
    r = run_cli("do", task, "--launch", "mousepad", "--record-dir", str(rec_dir), "--json", env=busdisplay.env,
                timeout=240, cwd=tmp_path)
    killer.join(5)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    typed = [res for s in load_recording(json_summary(r.stdout)["recording"]).steps for res in s.results
             if res.action and res.action.kind == "type"]
    assert len(killed) >= 3 and not set(killed) & set(_accessibility_bus(session))
    assert [(res.verified, res.verify_note) for res in typed] == [
        (True, "read back from the focused text"), (True, "read back by OCR of what changed on screen")]
