"""`uiagent replay` end to end on real displays: an xcalc run recorded with the offline planner is
replayed unchanged, after the window moved, and with other apps in its place (where nothing may be
done); a `uiagent record` demonstration is replayed; bad input is one clear line and exit 2."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from actions.desktop.x11 import PyAutoGUIDesktop
from actions.models import Click
from agent.display import VirtualDisplay
from agent.recording.format import load_recording
from tests.conftest import APPS, json_summary, run_cli, wait_until

pytestmark = pytest.mark.slow

TASK = "click 1, click 2, click +, click 3, click 0, click =, verify 42"
CALC_AT = (400, 150)
UIAGENT = str(Path(sys.executable).parent / "uiagent")



@pytest.fixture(scope="module")
def xcalc_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One offline-planner run on xcalc (OCR-grounded), recorded once for the module."""
    out = tmp_path_factory.mktemp("xcalc-rec")
    with VirtualDisplay(size=(1280, 800)) as vd:
        r = run_cli("do", TASK, "--launch", f"xcalc -geometry +{CALC_AT[0]}+{CALC_AT[1]}", "--record-dir",
                    str(out), "--json", env=vd.env, timeout=150)
    assert r.returncode == 0, r.stderr
    return Path(json_summary(r.stdout)["recording"])


def _screen_text(display: str) -> list[str]:
    from agent.perception.ocr import RapidOcrEngine
    from agent.perception.perceiver import ScreenPerceiver

    desktop = PyAutoGUIDesktop(display)
    try:
        return [e.text for e in ScreenPerceiver(desktop, ocr=RapidOcrEngine()).observe().elements]
    finally:
        desktop.close()


def _replay(vd: VirtualDisplay, recording: Path, out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    r = run_cli("replay", str(recording), "--record-dir", str(out), "--json", *args, env=vd.env, timeout=120)
    return r, json_summary(r.stdout) if r.stdout.strip() else {}


def _clicks(folder: Path) -> list[Click]:
    rec = load_recording(folder)
    return [r.action for s in rec.steps for r in s.results if r.ok and isinstance(r.action, Click)]


def test_replay_unchanged_reaches_the_same_result(vdisplay: VirtualDisplay, xcalc_recording: Path,
                                                  tmp_path: Path) -> None:
    vdisplay.launch_app(["xcalc", "-geometry", f"+{CALC_AT[0]}+{CALC_AT[1]}"])
    r, summary = _replay(vdisplay, xcalc_recording, tmp_path)
    assert r.returncode == 0, r.stderr
    assert summary["status"] == "done" and summary["model_calls"] == 0 and summary["cost_usd"] == 0
    assert "42" in _screen_text(vdisplay.display)
    replay = load_recording(summary["recording"])
    assert replay.session.kind == "replay" and replay.session.replay_of == str(xcalc_recording.resolve())
    assert [(c.x, c.y) for c in _clicks(replay.folder)] == [(c.x, c.y) for c in _clicks(xcalc_recording)]
    assert load_recording(xcalc_recording).session.kind == "do"  # the original is only read
    show = run_cli("show", str(replay.folder), "--diff", str(xcalc_recording))
    assert show.returncode == 0, show.stderr


def test_replay_relocates_every_target_after_the_window_moved(vdisplay: VirtualDisplay, xcalc_recording: Path,
                                                              tmp_path: Path) -> None:
    vdisplay.launch_app(["xcalc", "-geometry", f"+{CALC_AT[0] + 100}+{CALC_AT[1] + 100}"])
    r, summary = _replay(vdisplay, xcalc_recording, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "42" in _screen_text(vdisplay.display)
    recorded, replayed = _clicks(xcalc_recording), _clicks(Path(summary["recording"]))
    assert len(replayed) == len(recorded) == 6
    assert [(b.x - a.x, b.y - a.y) for a, b in zip(recorded, replayed)] == [(100, 100)] * 6


@pytest.mark.parametrize("foreign", ["form", "xterm"])
def test_another_app_in_its_place_stops_at_step_1_and_nothing_is_done(vdisplay: VirtualDisplay,
                                                                     xcalc_recording: Path, tmp_path: Path,
                                                                     foreign: str) -> None:
    clicks = tmp_path / "clickpad.txt"
    vdisplay.launch([sys.executable, str(APPS / "clickpad.py"), str(clicks)])  # logs any click that lands
    wait_until(lambda: clicks.exists() and "ready" in clicks.read_text(), what="clickpad")
    vdisplay.wait_for_window(name="clickpad")
    form_out = tmp_path / "form.txt"
    if foreign == "form":
        vdisplay.launch([sys.executable, str(APPS / "form.py"), "--out", str(form_out),
                         "--geometry", f"+{CALC_AT[0]}+{CALC_AT[1]}"])
        wait_until(lambda: form_out.exists() and "widgets" in form_out.read_text(), what="the form")
    else:
        vdisplay.launch_app(["xterm", "-geometry", f"40x30+{CALC_AT[0]}+{CALC_AT[1]}"])
    r, summary = _replay(vdisplay, xcalc_recording, tmp_path / "rec", "--patience", "0.5")
    assert r.returncode == 1, r.stderr
    assert summary["status"] == "failed"
    assert summary["reason"].startswith("step 1: click '1'") and "expected crops/" in summary["reason"]
    assert "nothing was performed" in summary["reason"]
    assert clicks.read_text().split() == ["ready"]  # not one click or key reached the clickpad
    if foreign == "form":
        assert "submit" not in form_out.read_text() and "cancel" not in form_out.read_text()
    replay = load_recording(summary["recording"])
    performed = [r.action.kind for s in replay.steps for r in s.results if r.ok]
    assert set(performed) <= {"wait"}  # only the waits for the target to appear
    assert replay.session.outcome.status == "failed"
    found = replay.folder / "crops"
    assert any(found.iterdir())  # what was expected and what was found are kept in the replay


class Demonstration:
    def __init__(self, env: dict[str, str], out: Path) -> None:
        self.proc = subprocess.Popen([UIAGENT, "record", "--out", str(out), "--task", "echo 42"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
        assert line.startswith("recording to "), line
        self.folder = Path(line.split()[2].rstrip(";"))


def _xterm(vd: VirtualDisplay, workdir: Path) -> None:
    vd.launch(["xterm", "-T", "work", "-geometry", "80x20+0+0", "-e", "bash", "--norc", "--noprofile"], cwd=workdir)
    vd.wait_for_window(name="work", timeout=30)


# xcalc's buttons, relative to its client window (Xaw layout, default font)
XCALC_KEYS = {"7": (68, 301), "*": (200, 301), "6": (156, 331), "=": (200, 392)}


def test_replay_of_a_uiagent_record_demonstration(vdisplay: VirtualDisplay, tmp_path: Path,
                                                  display_binaries: None) -> None:
    """A human (xdotool) computes 6 * 7 on xcalc and writes a file in xterm while `uiagent record`
    runs; replaying the demonstration on a fresh display reproduces both: 42 on xcalc, the file."""
    env = {k: v for k, v in vdisplay.env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    work = tmp_path / "work"
    work.mkdir()
    _xterm(vdisplay, work)
    calc = vdisplay.launch_app(["xcalc", "-geometry", "+900+40"])
    demo = Demonstration(env, tmp_path / "recordings")
    xdo = ["xdotool"]
    for key in ("6", "*", "7", "="):
        dx, dy = XCALC_KEYS[key]
        # at a person's pace: point, press, let go of the key before moving on
        subprocess.run([*xdo, "mousemove", str(calc.left + dx), str(calc.top + dy), "sleep", "0.2", "click", "1",
                        "sleep", "0.2"], env=env, check=True)
    wait_until(lambda: "42" in _screen_text(vdisplay.display), what="42 on xcalc during the demonstration")
    subprocess.run([*xdo, "mousemove", "60", "32", "click", "1"], env=env, check=True)  # on the prompt
    subprocess.run([*xdo, "type", "--delay", "15", "echo 42 > out.txt"], env=env, check=True)
    subprocess.run([*xdo, "key", "Return"], env=env, check=True)
    wait_until(lambda: (work / "out.txt").exists(), what="the demonstration's file")
    subprocess.run([*xdo, "key", "ctrl+alt+shift+r"], env=env, check=True)
    demo.proc.communicate(timeout=60)
    assert demo.proc.returncode == 0
    recorded = load_recording(demo.folder)
    assert [a.kind for s in recorded.steps for a in s.actions if a.kind != "wait"] == \
        ["click"] * 5 + ["type", "key"]

    again = tmp_path / "again"
    again.mkdir()
    with VirtualDisplay(size=(1280, 800)) as fresh:
        _xterm(fresh, again)
        fresh.launch_app(["xcalc", "-geometry", "+900+40"])
        r = run_cli("replay", str(demo.folder), "--speed", "4", "--record-dir", str(tmp_path / "replays"),
                    "--json", env=fresh.env, timeout=120)
        assert r.returncode == 0, r.stderr + r.stdout
        wait_until(lambda: (again / "out.txt").exists() and (again / "out.txt").read_text() == "42\n",
                   what="the replayed echo")
        assert "42" in _screen_text(fresh.display)


@pytest.fixture
def broken(xcalc_recording: Path, tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "copy"
    shutil.copytree(xcalc_recording, copy)
    yield copy


def test_truncated_steps_and_missing_crops_replay_what_can_be_verified(vdisplay: VirtualDisplay, broken: Path,
                                                                       tmp_path: Path) -> None:
    lines = (broken / "steps.jsonl").read_bytes().split(b"\n")
    (broken / "steps.jsonl").write_bytes(b"\n".join(lines[:5]) + b"\n" + lines[5][:40])  # step 6 cut short
    rec = load_recording(broken)
    plus = rec.steps[2].actions[0]
    (broken / "crops" / f"{plus.target.crop_hash}.png").unlink()  # step 3 '+': the label still verifies it
    before = sorted(p.name for p in broken.rglob("*"))
    vdisplay.launch_app(["xcalc", "-geometry", f"+{CALC_AT[0]}+{CALC_AT[1]}"])
    r, _ = _replay(vdisplay, broken, tmp_path / "rec")
    assert r.returncode == 0, r.stderr
    assert "truncated" in r.stderr and "crop(s) missing" in r.stderr
    assert "Traceback" not in r.stderr
    assert "30" in _screen_text(vdisplay.display)  # 12 + 30, '=' was never recorded whole
    assert sorted(p.name for p in broken.rglob("*")) == before  # nothing overwritten or added


def test_unverifiable_steps_are_skipped_and_listed(vdisplay: VirtualDisplay, broken: Path, tmp_path: Path) -> None:
    lines = (broken / "steps.jsonl").read_text().splitlines()
    step = json.loads(lines[0])
    (broken / "crops" / f"{step['actions'][0]['target']['crop_hash']}.png").unlink()
    step["actions"][0]["target"]["label"] = None
    step["results"][0]["action"]["target"]["label"] = None
    (broken / "steps.jsonl").write_text("\n".join([json.dumps(step), *lines[1:]]) + "\n")
    vdisplay.launch_app(["xcalc", "-geometry", f"+{CALC_AT[0]}+{CALC_AT[1]}"])
    r, summary = _replay(vdisplay, broken, tmp_path / "rec")
    assert "skipped: step 1: click" in r.stderr and "cannot be verified" in r.stderr
    assert r.returncode == 0 and "skipped 1" in summary["reason"]
    assert "32" in _screen_text(vdisplay.display)  # 2 + 30: the unverifiable "1" was not clicked


def test_bad_input_is_one_clear_line(tmp_path: Path, xcalc_recording: Path) -> None:
    (tmp_path / "empty").mkdir()
    newer = tmp_path / "newer"
    shutil.copytree(xcalc_recording, newer)
    session = json.loads((newer / "session.json").read_text())
    (newer / "session.json").write_text(json.dumps({**session, "version": 99}))
    older = tmp_path / "older"
    shutil.copytree(xcalc_recording, older)
    (older / "session.json").write_text(json.dumps({**session, "version": 0}))
    cases = [
        ([str(tmp_path / "nope")], "no such folder"),
        ([str(tmp_path / "empty")], "is not a recording"),
        ([str(newer)], "newer than this uiagent reads"),
        ([str(older)], "older than this uiagent reads"),
        ([str(xcalc_recording), "--speed", "0"], "--speed must be more than 0"),
        ([str(xcalc_recording), "--from", "5", "--to", "2"], "--from 5 is after --to 2"),
        ([str(xcalc_recording), "--from", "50"], "nothing to replay"),
    ]
    for args, message in cases:
        r = run_cli("replay", *args, env={"DISPLAY": ""})
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def _clickpad(vd: VirtualDisplay, out: Path) -> None:
    vd.launch([sys.executable, str(APPS / "clickpad.py"), str(out)])
    wait_until(lambda: out.exists() and "ready" in out.read_text(), what="clickpad")
    vd.wait_for_window(name="clickpad")


def test_cassette_records_a_model_run_and_replays_it_offline(tmp_path: Path, display_binaries: None) -> None:
    from tests.fakes.model_servers import FakeModelServer, anthropic_message, text_block, tool_use

    task = "click the middle, then the top left"
    env = {"ANTHROPIC_API_KEY": "test-key"}
    with FakeModelServer() as server, VirtualDisplay(size=(1280, 800)) as vd:
        server.script(anthropic_message(tool_use("left_click", coordinate=[640, 400])),
                      anthropic_message(tool_use("left_click", coordinate=[100, 120])),
                      anthropic_message(text_block("Done: both clicked.")))
        first = tmp_path / "first.txt"
        _clickpad(vd, first)
        r = run_cli("do", task, "--model", "anthropic:claude-sonnet-4-6", "--base-url", server.url, "--cassette",
                    "--record-dir", str(tmp_path / "rec"), "--json", env={**vd.env, **env}, timeout=120)
        assert r.returncode == 0, r.stderr
        assert server.calls("/v1/messages") == 3
    recorded = json_summary(r.stdout)
    folder = Path(recorded["recording"])
    assert len((folder / "cassette.jsonl").read_text().splitlines()) == 3
    assert b"base64," not in (folder / "cassette.jsonl").read_bytes() and any((folder / "cassette").iterdir())
    clicks = [line for line in first.read_text().splitlines() if line.startswith("click")]
    assert len(clicks) == 2

    with VirtualDisplay(size=(1280, 800)) as vd:  # the server is gone: only the cassette answers
        again = tmp_path / "again.txt"
        _clickpad(vd, again)
        r = run_cli("do", task, "--cassette-replay", str(folder), "--record-dir", str(tmp_path / "rec2"), "--json",
                    env=vd.env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert [line for line in again.read_text().splitlines() if line.startswith("click")] == clicks
        replayed = json_summary(r.stdout)
        assert (replayed["status"], replayed["model_calls"], replayed["steps"]) == \
            (recorded["status"], recorded["model_calls"], recorded["steps"])

        other = run_cli("do", "click somewhere else", "--cassette-replay", str(folder), "--record-dir",
                        str(tmp_path / "rec3"), env=vd.env, timeout=120)
        assert other.returncode == 4, other.stderr
        assert "cassette: request 1 differs from the recording at body.messages" in other.stderr
        assert "Traceback" not in other.stderr


def test_crafted_names_are_refused_and_nothing_outside_is_read(vdisplay: VirtualDisplay, broken: Path,
                                                               tmp_path: Path) -> None:
    """Crop hashes and frame names that point outside (at FIFOs: opening one would hang the
    replay) are refused with a warning naming the step; the labels still verify every target."""
    from tests.recording_samples import FifoTrap

    trap = FifoTrap(tmp_path / "outside")
    steps = [json.loads(line) for line in (broken / "steps.jsonl").read_text().splitlines()]
    for step in steps:
        step["frame_after"] = str(trap.fifos[0])
        for action in step["actions"]:
            if action.get("target"):
                action["target"]["crop_hash"] = "../../outside/fifo"
    lines = [json.dumps(s) for s in steps]
    lines.insert(2, "{not a step")
    (broken / "steps.jsonl").write_text("\n".join(lines) + "\n")
    vdisplay.launch_app(["xcalc", "-geometry", f"+{CALC_AT[0]}+{CALC_AT[1]}"])
    r, summary = trap.call(lambda: _replay(vdisplay, broken, tmp_path / "rec"), timeout=150)
    assert r.returncode == 0, r.stderr
    assert "step 1 (line 1): frame_after" in r.stderr and "crop_hash '../../outside/fifo'" in r.stderr
    assert "line 3 (" in r.stderr and "Traceback" not in r.stderr
    assert "42" in _screen_text(vdisplay.display)
