"""agent.children: a child is killed by the kernel when uiagent dies, and not before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agent.children import _prctl, die_with_parent, popen


def _alive(proc: subprocess.Popen[bytes], within: float) -> bool:
    try:
        proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        return True
    return False


def _from_thread(start: object) -> subprocess.Popen[bytes]:
    got: list[subprocess.Popen[bytes] | BaseException] = []

    def run() -> None:
        try:
            got.append(start())  # type: ignore[operator]
        except BaseException as e:
            got.append(e)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if isinstance(got[0], BaseException):
        raise got[0]
    return got[0]


def test_a_child_forked_from_a_thread_that_ended_dies_without_the_spawner() -> None:
    # The hazard popen avoids: PDEATHSIG fires when the forking thread ends.
    preexec = die_with_parent(os.getpid(), _prctl())
    proc = _from_thread(lambda: subprocess.Popen(["sleep", "30"], preexec_fn=preexec))
    assert not _alive(proc, within=5)
    assert proc.returncode == -signal.SIGKILL


def test_popen_from_a_short_lived_thread_outlives_that_thread() -> None:
    proc = _from_thread(lambda: popen(["sleep", "30"]))
    try:
        assert _alive(proc, within=0.5)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("setpriv", [True, False], ids=["setpriv", "preexec"])
def test_children_die_when_the_parent_is_killed(setpriv: bool) -> None:
    # A parent that starts one child on the main thread and one from a thread, then is SIGKILLed.
    code = ("import sys, threading; import agent.children as c; from agent.children import popen\n"
            + ("" if setpriv else "c._setpriv = lambda: None\n") +
            "a = popen(['sleep', '60'])\n"
            "b = []; t = threading.Thread(target=lambda: b.append(popen(['sleep', '60']))); t.start(); t.join()\n"
            "print(a.pid, b[0].pid, flush=True)\n"
            "import time; time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert len(pids) == 2 and all(_running(p) for p in pids)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 2
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_running(p) for p in pids)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_popen_errors_reach_the_caller_from_a_thread() -> None:
    with pytest.raises(FileNotFoundError):
        _from_thread(lambda: popen(["/nonexistent/program"]))


def test_the_process_is_the_program_itself_with_its_own_args() -> None:
    proc = popen(["sleep", "30"])
    try:
        assert proc.args == ["sleep", "30"]
        # setpriv exec'd the program: same pid, so _NET_WM_PID still matches a launched app's window
        deadline = time.monotonic() + 5
        while Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[0] != b"sleep":
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()


def test_letting_an_app_finish_is_quiet_when_its_display_is_gone() -> None:
    from agent.display import let_finish

    started = time.monotonic()
    let_finish(":9999", 0x400001, timeout=5)   # no such display: nothing to wait for, no error
    assert time.monotonic() - started < 2
