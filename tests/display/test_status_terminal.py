"""The live status line of the real CLI: drawn on a terminal (a pseudo-terminal here) from start-up
through the model call and the wait, erased before each step line; absent with --json or a pipe."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from agent.display import VirtualDisplay
from tests.conftest import run_cli
from tests.fakes.model_servers import (
    FakeModelServer,
    RecordedRequest,
    Reply,
    computer_call,
    output_message,
    responses_body,
)

ERASE = "\x1b[2K"


def wait_then_done() -> FakeModelServer:
    """The model thinks 1.2 s, asks for a wait (2 s), then says it is done."""
    calls = [0]

    def policy(request: RecordedRequest) -> Reply:
        calls[0] += 1
        if calls[0] == 1:
            return Reply(body=responses_body(computer_call(actions=[{"type": "wait"}]), model="gpt-5.4"), delay=1.2)
        return Reply(body=responses_body(output_message("done"), model="gpt-5.4"))
    return FakeModelServer(policy)


def run_in_pty(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run `uiagent ARGS` with stdin, stdout and stderr on one pseudo-terminal; all it wrote."""
    master, slave = pty.openpty()
    exe = Path(sys.executable).parent / "uiagent"
    proc = subprocess.Popen([str(exe), *args], stdin=slave, stdout=slave, stderr=slave,
                            env={**os.environ, **env, "COLUMNS": "200"}, close_fds=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=10), out.decode(errors="replace")


def test_the_status_is_drawn_on_a_terminal_and_erased_before_each_step_line(vdisplay: VirtualDisplay,
                                                                            tmp_path: Path) -> None:
    with wait_then_done() as server:
        code, out = run_in_pty(["do", "look", "--model", "openai-cua:gpt-5.4", "--base-url", server.openai_url,
                                "--record-dir", str(tmp_path / "rec")],
                               {**vdisplay.env, "OPENAI_API_KEY": "test-key"})
    assert code == 0, out
    w, h = vdisplay.size
    starting = out.find(f"starting: display {vdisplay.display} ({w}x{h}), planner openai-cua:gpt-5.4, connecting...")
    thinking = out.find("openai-cua:gpt-5.4: thinking...")
    waiting = re.search(r"wait [12]s", out)
    step1, step2 = out.find("step  1"), out.find("step  2")
    assert -1 < starting < thinking < step1, out
    assert re.search(r"thinking\.\.\. 1\.\d+s", out), "the elapsed time of the 1.2 s call is drawn"
    assert waiting is not None and thinking < waiting.start() < step1 < step2, out   # the wait is step 1's
    for line_at in (step1, step2):  # erased right before each step line: nothing of the status left in it
        assert out.rfind(ERASE, 0, line_at) > out.rfind("thinking", 0, line_at), out
        between = out[out.rfind(ERASE, 0, line_at) + len(ERASE):line_at]
        assert re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", between) == "", repr(between)


def test_no_status_with_json_or_when_stderr_is_not_a_terminal(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    env = {**vdisplay.env, "OPENAI_API_KEY": "test-key"}
    with wait_then_done() as server:
        code, out = run_in_pty(["do", "look", "--model", "openai-cua:gpt-5.4", "--base-url", server.openai_url,
                                "--record-dir", str(tmp_path / "rec"), "--json"], env)
    assert code == 0, out
    assert '"status": "done"' in out and "step  1" in out   # progress still goes to stderr
    assert "starting:" not in out and "thinking" not in out and ERASE not in out
    with wait_then_done() as server:
        piped = run_cli("do", "look", "--model", "openai-cua:gpt-5.4", "--base-url", server.openai_url,
                        "--record-dir", str(tmp_path / "rec"), env=env, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert "step  1" in piped.stdout
    assert "starting:" not in piped.stderr and "thinking" not in piped.stderr and "\x1b" not in piped.stderr
