"""`uiagent record` on a real Xvfb: xdotool (XTEST) plays the human while the recorder runs in its own
process; the recording must hold exactly the scripted actions, keep a password out of every byte,
and the recorded actions, executed on a fresh display, must reproduce the result.

xcalc ignores XTEST button events under Xvfb here (xdotool's and pyautogui's alike: its display stays
at 0), so its clicks serve the targets and labels, and reproduction is checked on the file the xterm
writes. A real `uiagent replay` test belongs to the replay issue."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from actions.desktop.x11 import PyAutoGUIDesktop
from actions.executor import Executor
from actions.models import Click, Drag, Key, Point, Scroll, Type, Wait
from agent.display import VirtualDisplay
from agent.recording.format import REDACTED, load_recording
from tests.conftest import wait_until

pytestmark = pytest.mark.slow

XCALC_AT = (900, 40)
# xcalc buttons, relative to its client window (measured under openbox, default font)
XCALC = {"7": (68, 301), "*": (200, 301), "6": (156, 331), "=": (200, 392)}
PASSWORD = "hunter2xyz"
UIAGENT = str(Path(sys.executable).parent / "uiagent")


class Recording:
    """A `uiagent record` process on a display, started and waited for through its ready line."""

    def __init__(self, env: dict[str, str], out: Path, *args: str) -> None:
        self.proc = subprocess.Popen([UIAGENT, "record", "--out", str(out), *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
        if not line.startswith("recording to "):
            self.proc.kill()
            raise AssertionError(f"recorder not ready: {line!r} {self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.folder = Path(line.split()[2].rstrip(";"))

    def steps(self) -> int:
        file = self.folder / "steps.jsonl"
        return len(file.read_text().splitlines()) if file.exists() else 0

    def wait(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


def xdo(env: dict[str, str], *args: str) -> None:
    subprocess.run(["xdotool", *args], env=env, check=True, timeout=30)


def launch_apps(vd: VirtualDisplay, workdir: Path, password_out: Path | None) -> tuple[int, int]:
    vd.launch(["xcalc", "-geometry", f"+{XCALC_AT[0]}+{XCALC_AT[1]}"])
    calc = vd.wait_for_window(name="xcalc", timeout=30)
    vd.launch(["xterm", "-T", "work", "-geometry", "80x20+0+0", "-e", "bash", "--norc", "--noprofile"], cwd=workdir)
    vd.wait_for_window(name="work", timeout=30)
    if password_out is not None:
        script = f'read -r p; printf %s "$p" | wc -c > {password_out}; exec sleep 600'
        vd.launch(["xterm", "-T", "sudo password", "-geometry", "60x8+0+460", "-e", "sh", "-c", script])
        vd.wait_for_window(name="sudo password", timeout=30)
    return calc.left, calc.top


@pytest.fixture
def record_env(vdisplay: VirtualDisplay, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = dict(vdisplay.env)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    yield env


def test_record_a_demonstration_then_reproduce_it_on_a_fresh_display(vdisplay: VirtualDisplay,
                                                                     record_env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    env, work = record_env, tmp_path / "work"
    work.mkdir()
    pw_out = tmp_path / "pwlen.txt"
    cx, cy = launch_apps(vdisplay, work, pw_out)
    rec = Recording(env, tmp_path / "recordings", "--task", "six times seven")

    for name in ("6", "*", "7", "="):
        dx, dy = XCALC[name]
        xdo(env, "mousemove", str(cx + dx), str(cy + dy), "sleep", "0.2", "click", "1", "sleep", "0.2")  # a person's pace
    xdo(env, "mousemove", "300", "200", "click", "1")                                   # focus the xterm
    xdo(env, "mousemove", "60", "40", "click", "--repeat", "2", "--delay", "60", "1")    # double click
    xdo(env, "mousemove", "40", "60", "mousedown", "1", "mousemove", "120", "70",
        "mousemove", "220", "90", "mouseup", "1")                                       # drag
    xdo(env, "type", "--delay", "15", "echo 42 > out.txtt")
    xdo(env, "key", "BackSpace", "Return")
    wait_until(lambda: (work / "out.txt").exists(), what="the xterm to write out.txt")
    xdo(env, "key", "ctrl+l")
    xdo(env, "mousemove", "400", "150", "click", "5", "click", "5", "click", "5")       # scroll burst
    xdo(env, "mousemove", "200", "520", "click", "1")                                   # the password xterm
    xdo(env, "type", "--delay", "15", PASSWORD)
    xdo(env, "key", "Return")
    wait_until(lambda: pw_out.exists() and pw_out.read_text().strip(), what="the password window to read")
    xdo(env, "key", "ctrl+alt+shift+r")
    code, out, err = rec.wait()
    assert code == 0, err
    assert "recorded 14 steps" in out and "stopped by the stop hotkey" in out

    recording = load_recording(rec.folder)
    assert recording.session.kind == "record" and recording.session.outcome.status == "done"
    actions = [a for s in recording.steps for a in s.actions if not isinstance(a, Wait)]
    bare = [a.model_copy(update={"target": None}) if hasattr(a, "target") else a for a in actions]
    xc = {k: Click(x=cx + dx, y=cy + dy) for k, (dx, dy) in XCALC.items()}
    assert bare == [
        xc["6"], xc["*"], xc["7"], xc["="], Click(x=300, y=200), Click(x=60, y=40, count=2),
        Drag(path=(Point(x=40, y=60), Point(x=120, y=70), Point(x=220, y=90))),
        Type(text="echo 42 > out.txt"), Key(chord="enter"), Key(chord="ctrl+l"),
        Scroll(x=400, y=150, dy=3), Click(x=200, y=520), Type(text=REDACTED), Key(chord="enter"),
    ]
    _check_targets(recording, actions)
    _check_password_kept_out(recording.folder, recording, pw_out)
    assert (work / "out.txt").read_text() == "42\n"

    _reproduce(actions[:11], tmp_path / "replay")


def _check_targets(recording: object, actions: list) -> None:
    folder = recording.folder  # type: ignore[attr-defined]
    pointer = [a for a in actions if isinstance(a, (Click, Drag, Scroll))]
    assert all(a.target and a.target.crop_hash for a in pointer)
    assert all((folder / "crops" / f"{a.target.crop_hash}.png").is_file() for a in pointer)
    labels = [a.target.label for a in pointer[:4]]
    assert sum(label == want for label, want in zip(labels, ["6", "*", "7", "="])) >= 2, labels
    for step in recording.steps:  # type: ignore[attr-defined]
        if not isinstance(step.actions[0], Wait):
            assert step.frame_before and step.frame_after
            assert step.durations.capture < 200


def _check_password_kept_out(folder: Path, recording: object, pw_out: Path) -> None:
    assert pw_out.read_text().strip() == str(len(PASSWORD))  # it really was typed there
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data and b"hunter2" not in data, path
    step = next(s for s in recording.steps if isinstance(s.actions[0], Type)  # type: ignore[attr-defined]
                and s.actions[0].text == REDACTED)
    assert any("redacted" in n for n in step.notes)
    with Image.open(folder / "frames" / step.frame_after) as frame:
        window = frame.convert("L").crop((20, 480, 300, 560))  # inside the password xterm
        assert window.getextrema() == (0, 0), "the sensitive window must be blacked out"


def _reproduce(actions: list, workdir: Path) -> None:
    workdir.mkdir()
    with VirtualDisplay(size=(1280, 800)) as vd:
        cx, cy = launch_apps(vd, workdir, None)
        desktop = PyAutoGUIDesktop(vd.display)
        try:
            executor = Executor(desktop)
            for action in actions:
                result = executor.execute(action)
                assert result.ok, result.describe()
            wait_until(lambda: (workdir / "out.txt").exists() and (workdir / "out.txt").read_text(),
                       what="the replayed echo")
            assert (workdir / "out.txt").read_text() == "42\n"
        finally:
            desktop.close()


def test_sigint_and_sigterm_finish_cleanly(vdisplay: VirtualDisplay, record_env: dict[str, str],
                                           tmp_path: Path) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        rec = Recording(record_env, tmp_path / sig.name, "--no-labels")
        xdo(record_env, "mousemove", "50", "50", "click", "3")
        wait_until(lambda: rec.steps() == 1, what="the click to be written")
        rec.proc.send_signal(sig)
        code, out, err = rec.wait()
        assert code == 0, err
        recording = load_recording(rec.folder)
        assert recording.session.outcome.status == "done"
        assert recording.session.outcome.reason == f"stopped by {sig.name}"
        assert [s.actions[0] for s in recording.steps][0].model_copy(update={"target": None}) == \
            Click(x=50, y=50, button="right")


def test_redact_regions_are_black_in_frames_and_crops(vdisplay: VirtualDisplay, record_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    vdisplay.launch(["xterm", "-T", "work", "-geometry", "80x20+0+0", "-bg", "white"])
    vdisplay.wait_for_window(name="work")
    rec = Recording(record_env, tmp_path, "--no-labels", "--redact", "0,0,200,100", "--stop-hotkey", "ctrl+q")
    xdo(record_env, "mousemove", "100", "50", "click", "1")
    wait_until(lambda: rec.steps() == 1, what="the click to be written")
    xdo(record_env, "key", "ctrl+q")
    code, _, err = rec.wait()
    assert code == 0, err
    recording = load_recording(rec.folder)
    (step,) = recording.steps
    with Image.open(recording.frame_path(step.frame_before)) as frame:
        assert frame.convert("L").crop((0, 0, 200, 100)).getextrema() == (0, 0)
        assert frame.convert("L").crop((300, 100, 400, 200)).getextrema()[1] > 0
    with Image.open(recording.crop_path(step.actions[0].target.crop_hash)) as crop:  # type: ignore[union-attr]
        assert crop.convert("L").getextrema() == (0, 0)


def test_losing_the_display_mid_recording_keeps_what_was_recorded(display_binaries: None, tmp_path: Path) -> None:
    with VirtualDisplay() as vd:
        env = dict(vd.env)
        rec = Recording(env, tmp_path, "--no-labels")
        xdo(env, "mousemove", "10", "10", "click", "1")
        wait_until(lambda: rec.steps() == 1, what="the click to be written")
        vd.stop()  # the X server goes away under the recorder
        code, _, err = rec.wait()
    assert code == 2, err
    assert err.strip().count("\n") == 0 and "lost the X display" in err
    recording = load_recording(rec.folder)
    assert recording.session.outcome.status == "error"
    assert len(recording.steps) == 1


def test_a_killed_recorder_leaves_a_loadable_recording(vdisplay: VirtualDisplay, record_env: dict[str, str],
                                                       tmp_path: Path) -> None:
    rec = Recording(record_env, tmp_path, "--no-labels")
    xdo(record_env, "mousemove", "10", "10", "click", "1", "mousemove", "300", "300", "click", "1")
    wait_until(lambda: rec.steps() == 2, what="two clicks to be written")
    rec.proc.kill()
    rec.wait()
    recording = load_recording(rec.folder)
    assert len(recording.steps) == 2 and recording.session.outcome.status == "running"
    assert any("did not finish" in w for w in recording.warnings)


def test_environment_errors_are_one_line_and_exit_2(tmp_path: Path, display_binaries: None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    no_display = subprocess.run([UIAGENT, "record", "--out", str(tmp_path)], env=env, capture_output=True,
                                text=True, timeout=60)
    assert no_display.returncode == 2 and "DISPLAY is not set" in no_display.stderr
    assert no_display.stderr.count("\n") == 1
    bad_region = subprocess.run([UIAGENT, "record", "--redact", "1,2,3"], capture_output=True, text=True, timeout=60)
    assert bad_region.returncode == 2 and "x,y,w,h" in bad_region.stderr

    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "640x480x24", "-nolisten", "tcp",
                             "-extension", "RECORD"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        number = os.read(read, 16).decode().strip()
        no_record = subprocess.run([UIAGENT, "record", "--out", str(tmp_path)], env={**env, "DISPLAY": f":{number}"},
                                   capture_output=True, text=True, timeout=60)
        assert no_record.returncode == 2 and "no RECORD extension" in no_record.stderr, no_record.stderr
    finally:
        os.close(read)
        xvfb.terminate()
        xvfb.wait(timeout=10)
    assert not list(tmp_path.glob("*/session.json"))


def test_an_unwritable_output_folder_is_one_line_and_exit_2(record_env: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = subprocess.run([UIAGENT, "record", "--no-labels", "--out", str(blocker / "sub")], env=record_env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "cannot write the recording" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
