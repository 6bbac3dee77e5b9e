"""The foundation on a real X server: typing into xterm, pixel-exact clicks, denials, stopping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actions.desktop.x11 import PyAutoGUIDesktop
from actions.executor import Executor
from actions.models import Click, Key, Type
from agent.display import VirtualDisplay
from tests.conftest import run_cli, wait_until


def start_xterm(vd: VirtualDisplay) -> None:
    vd.launch(["xterm", "-e", "bash", "--norc", "--noprofile"])
    vd.wait_for_window(name="xterm")


def test_typed_command_runs_in_a_real_xterm(vdisplay: VirtualDisplay, desktop: PyAutoGUIDesktop, tmp_path: Path) -> None:
    start_xterm(vdisplay)
    target = tmp_path / "out.txt"
    ex = Executor(desktop)
    assert ex.execute(Type(text=f"echo ok > {target}")).ok
    assert ex.execute(Key(chord="Return")).ok
    wait_until(lambda: target.exists() and target.read_text() == "ok\n", what="the file written by xterm")
    assert desktop.active_window().app.lower() == "xterm"


@pytest.mark.parametrize("point", [(1, 1), (640, 400), (1278, 798), (123, 457)])
def test_click_lands_on_the_intended_pixel(vdisplay, desktop, clickpad: Path, point) -> None:
    x, y = point
    assert Executor(desktop).execute(Click(x=x, y=y, button="right")).ok
    line = wait_until(lambda: [l for l in clickpad.read_text().splitlines() if l.startswith("click")], what="a click")
    assert line == [f"click {x} {y} right"]


def test_denied_action_is_never_performed(vdisplay, desktop, tmp_path: Path) -> None:
    start_xterm(vdisplay)
    pwned, sentinel = tmp_path / "pwned", tmp_path / "sentinel"
    ex = Executor(desktop)
    denied = ex.execute(Type(text=f"echo x > {pwned}; sudo  rm -fr ~/ \n"))
    assert denied.status == "denied"
    assert ex.execute(Type(text=f"echo done > {sentinel}\n")).ok
    wait_until(sentinel.exists, what="the sentinel command")  # xterm has run everything typed so far
    assert not pwned.exists()


def _act_process(vd: VirtualDisplay, actions: list[dict], tmp_path: Path) -> subprocess.Popen[str]:
    script = tmp_path / "actions.json"
    script.write_text(json.dumps(actions))
    exe = Path(sys.executable).parent / "uiagent"
    return subprocess.Popen([str(exe), "act", str(script)], env={**os.environ, **vd.env}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _long_sequence() -> list[dict]:
    steps = []
    for i in range(40):
        steps += [{"kind": "click", "x": 300 + i, "y": 300}, {"kind": "wait", "seconds": 0.25}]
    return steps


def _started(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    first = proc.stdout.readline()  # blocks until the first action has been performed
    assert first.strip().startswith("1 "), first


@pytest.mark.parametrize("how", ["fail-safe corner", "kill-switch hotkey"])
def test_a_running_sequence_stops_at_once(vdisplay, clickpad: Path, tmp_path: Path, how: str) -> None:
    proc = _act_process(vdisplay, _long_sequence(), tmp_path)
    _started(proc)
    xdotool = ["mousemove", "0", "0"] if how == "fail-safe corner" else ["key", "ctrl+alt+shift+k"]
    t0 = time.monotonic()
    subprocess.run(["xdotool", *xdotool], env=vdisplay.env, check=True)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 3, err
    assert time.monotonic() - t0 < 1.5
    assert ("fail-safe" if how == "fail-safe corner" else "kill switch") in err
    clicks = [l for l in clickpad.read_text().splitlines() if l.startswith("click")]
    assert 1 <= len(clicks) < 40
    assert "Traceback" not in err


def test_dry_run_performs_nothing(vdisplay, clickpad: Path, tmp_path: Path) -> None:
    script = tmp_path / "a.json"
    script.write_text(json.dumps([{"kind": "click", "x": 200, "y": 200}, {"kind": "type", "text": "hi"}]))
    r = run_cli("act", "--dry-run", str(script), env=vdisplay.env)
    assert r.returncode == 0, r.stderr
    assert "would click at (200, 200)" in r.stdout
    # A real click afterwards is recorded first: nothing before it reached the app.
    assert run_cli("act", "-", env=vdisplay.env, input='[{"kind":"click","x":5,"y":7}]').returncode == 0
    first = wait_until(lambda: [l for l in clickpad.read_text().splitlines() if l.startswith("click")], what="click")
    assert first == ["click 5 7 left"]


@pytest.mark.parametrize("actions, code, message", [
    ('[{"kind":"key","chord":"ctrl+frobnicate"}]', 2, "unknown key name 'frobnicate'"),
    ('[{"kind":"key","chord":""}]', 2, "empty key chord"),
    ('[{"kind":"wait","seconds":86400}]', 2, "seconds"),
    ('[{"kind":"click","x":99999,"y":5}]', 3, "outside the 1280x800 screen"),
    ('[{"kind":"key","chord":"ctrl+alt+BackSpace"}]', 3, "denied"),
    ('not json', 2, "not JSON"),
])
def test_bad_input_is_one_line_and_the_right_code(vdisplay, actions: str, code: int, message: str) -> None:
    r = run_cli("act", "-", env=vdisplay.env, input=actions)
    assert r.returncode == code, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
