"""How a run ends: nothing it started outlives it, and every ending is recorded with the right
code and one line (issue 15, parts 4-6). Real Xvfb, openbox, bubblewrap and xcalc."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from agent.recording.format import load_recording
from tests.conftest import json_summary, wait_until

UIAGENT = str(Path(sys.executable).parent / "uiagent")
BUSY = ", ".join(["wait 1 second"] * 60)  # keeps a run going for a minute


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(state, parent pid, start time) of a live process; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[1]), fields[19]


def descendants(root: int) -> dict[int, str]:
    """Every process below `root`, with its start time (so a reused pid is not mistaken for it)."""
    stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(int(p))) is not None}
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (_, ppid, start) in stats.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def still_running(procs: dict[int, str]) -> list[str]:
    out = []
    for pid, start in procs.items():
        s = _stat(pid)
        if s is not None and s[2] == start and s[0] != "Z":  # an orphan's zombie waits for init to reap it
            out.append(f"{pid} {_command(pid)}")
    return out


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return "?"


def _busy_run(tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    env.pop("DISPLAY", None)
    return subprocess.Popen([UIAGENT, "do", BUSY, "--record-dir", str(tmp_path / "rec"), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _steps(tmp_path: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (tmp_path / "rec").glob("*/steps.jsonl"))


def test_sigkill_leaves_nothing_running(tmp_path: Path) -> None:
    proc = _busy_run(tmp_path, "--virtual", "--launch", "xcalc")
    wait_until(lambda: _steps(tmp_path) >= 1, timeout=60, what="a recorded step")
    tree = descendants(proc.pid)
    names = " ".join(still_running(tree))
    assert all(n in names for n in ("Xvfb", "openbox", "bwrap", "xcalc")), names
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 2
    while still_running(tree) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert still_running(tree) == []


def _outcome(tmp_path: Path) -> dict[str, object]:
    session = json.loads(next((tmp_path / "rec").glob("*/session.json")).read_text())
    outcome: dict[str, object] = session["outcome"]
    return outcome


def test_the_x_server_killed_mid_run_is_recorded_as_display_closed(tmp_path: Path) -> None:
    proc = _busy_run(tmp_path, "--virtual", "--launch", "xcalc", "--json")
    wait_until(lambda: _steps(tmp_path) >= 1, timeout=60, what="a recorded step")
    xvfb = [pid for pid in descendants(proc.pid) if _command(pid).endswith("Xvfb")]
    assert len(xvfb) == 1
    os.kill(xvfb[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    display = json_summary(out.decode())
    assert proc.returncode == 1, err
    stderr = err.decode()
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert re.search(r"^failed: display :\d+ closed", stderr, re.M), stderr
    outcome = _outcome(tmp_path)
    assert outcome["status"] == "failed" and re.fullmatch(r"display :\d+ closed", str(outcome["reason"]))
    assert display["reason"] == outcome["reason"]


def test_sigterm_during_the_clean_up_still_prints_the_summary_and_the_outcomes_code(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([UIAGENT, "do", "wait 1 second", "--virtual", "--launch", "xcalc", "--json",
                             "--record-dir", str(tmp_path / "rec")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def ended() -> bool:
        try:
            return _outcome(tmp_path)["status"] != "running"
        except (StopIteration, json.JSONDecodeError):  # not started, or being replaced
            return False
    wait_until(ended, timeout=60, what="the outcome recorded")
    proc.send_signal(signal.SIGTERM)  # the run is over: apps, sandbox and display are being stopped
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json_summary(out.decode())["status"] == "done"
    stderr = err.decode()
    assert "Traceback" not in stderr and re.search(r"^done", stderr, re.M), stderr
    assert _outcome(tmp_path)["status"] == "done"


def _tmpfs(path: Path, size: str) -> None:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def test_a_disk_that_fills_up_mid_run_still_gets_its_outcome(tmp_path: Path) -> None:
    """A 400 KB tmpfs as --record-dir: a step that waits, then typing's frames fill it."""
    disk = tmp_path / "rec"
    _tmpfs(disk, "400k")
    try:
        proc = subprocess.run([UIAGENT, "do", "wait 1 second, " + ", ".join(f"type x{i}" for i in range(200)), "--virtual",
                               "--launch", "xterm", "--record-dir", str(disk), "--json"],
                              env={**os.environ, "HOME": str(tmp_path / "home")}, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
        assert re.search(r"^failed: disk full: cannot write the recording", proc.stderr, re.M), proc.stderr
        outcome = _outcome(tmp_path)
        assert outcome["status"] == "failed" and str(outcome["reason"]).startswith("disk full: ")
        assert json_summary(proc.stdout)["reason"] == outcome["reason"]
        folder = next(p for p in disk.iterdir() if p.is_dir())
        left = [p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name == ".reserve"]
        assert left == []
        rec = load_recording(folder)
        sizes = {p.name: p.stat().st_size for p in folder.rglob("*") if p.is_file()}
        assert len(rec.steps) >= 1 and not rec.missing_frames, sizes
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_the_x_server_killed_while_an_app_is_launched_is_one_line(tmp_path: Path) -> None:
    from agent.display import VirtualDisplay

    with VirtualDisplay(size=(640, 480), window_manager=False) as vd:
        proc = subprocess.Popen([UIAGENT, "do", "type hi", "--launch", "sleep 30", "--no-sandbox",
                                 "--record-dir", str(tmp_path / "rec")], env={**os.environ, **vd.env},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_until(lambda: any(_command(p) == "sleep" for p in descendants(proc.pid)), timeout=60,
                   what="the app launched (its window is being waited for)")
        assert vd._xvfb is not None
        vd._xvfb.kill()
        _, err = proc.communicate(timeout=30)
    stderr = err.decode()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == f"uiagent: error: display {vd.display} closed"
