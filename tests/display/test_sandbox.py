"""The sandbox for launched apps, for real: Xvfb, bubblewrap, xterm/xcalc/galculator, the CLI."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from actions.desktop.x11 import PyAutoGUIDesktop
from agent.cli.doctor import _sandbox_check
from agent.display import VirtualDisplay
from agent.perception.a11y import A11yReader
from agent.sandbox import Sandbox
from tests.conftest import run_cli, wait_until


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder outside /tmp (so it is not hidden by the private /tmp, only read-only), with a canary."""
    with tempfile.TemporaryDirectory(prefix="uiagent-canary-", dir="/var/tmp") as folder:
        (Path(folder) / "canary").write_text("still here")
        yield Path(folder)


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    """Stands in for the user's HOME (never the real one), with a canary file."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "canary").write_text("still here")
    return home


def test_destruction_inside_leaves_the_users_files_alone(vdisplay: VirtualDisplay, user_home: Path,
                                                        outside: Path) -> None:
    script = (f"rm -rf ~/canary ~/* {outside}/canary {outside}; touch {outside}/new ~/written; "
              "tty > ~/tty; echo done > ~/done; sleep 30")
    with Sandbox(vdisplay.display, {**vdisplay.env, "HOME": str(user_home)}) as box:
        window = box.launch_app(["xterm", "-e", "sh", "-c", script])  # xterm needs its pty: /dev/pts
        assert window.window.app == "XTerm"
        private = box.private_home
        wait_until(lambda: (private / "done").exists(), what="the script to finish")
        assert (private / "written").exists()                         # the app could write its HOME
        assert (private / "tty").read_text().startswith("/dev/pts/")
        procs = list(box._procs)
    assert (user_home / "canary").read_text() == "still here"         # the real HOME: untouched
    assert sorted(p.name for p in user_home.iterdir()) == ["canary"]
    assert (outside / "canary").read_text() == "still here"           # read-only everywhere
    assert not (outside / "new").exists()
    assert not private.exists()                                       # the private HOME is removed
    assert all(p.returncode is not None for p, _ in procs)            # stopped and reaped


def _connect_script(port: int, out: str) -> list[str]:
    code = ("import socket, pathlib\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).close(); r = 'connected'\n"
            "except OSError as e:\n"
            "    r = 'failed ' + type(e).__name__\n"
            f"pathlib.Path.home().joinpath('{out}').write_text(r)\n")
    # The interpreter itself, not the venv's link to it: the venv may live under /tmp (a CI clone),
    # which the sandbox replaces with a private, empty /tmp.
    return [os.path.realpath(sys.executable), "-c", code]


@pytest.fixture
def tcp_server() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(60)

    def accept_one() -> None:
        try:
            server.accept()[0].close()
        except OSError:  # nobody came (the sandboxed attempt must not) or the socket was closed
            pass
    thread = threading.Thread(target=accept_one, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()


def test_no_network_inside_unless_sandbox_net(vdisplay: VirtualDisplay, tcp_server: int) -> None:
    with Sandbox(vdisplay.display, vdisplay.env) as box:
        box.launch(_connect_script(tcp_server, "net"))
        # generous: a Python start inside the sandbox on a loaded 2-core machine can take seconds
        result = wait_until(lambda: (p := box.private_home / "net").exists() and p.read_text(), timeout=60,
                            what="no net")
        assert str(result).startswith("failed"), result                # loopback is unshared too
    with Sandbox(vdisplay.display, vdisplay.env, net=True) as box:
        box.launch(_connect_script(tcp_server, "net"))
        result = wait_until(lambda: (p := box.private_home / "net").exists() and p.read_text(), timeout=60,
                            what="net")
        assert result == "connected"


def test_a_sandboxed_x_app_shows_its_window_on_our_display(vdisplay: VirtualDisplay,
                                                           desktop: PyAutoGUIDesktop) -> None:
    with Sandbox(vdisplay.display, vdisplay.env) as box:
        geometry = box.launch_app("xcalc")
        assert geometry.window.app.lower() == "xcalc" and geometry.width > 50 and geometry.height > 50
        shot = desktop.capture().image.crop((geometry.left, geometry.top, geometry.left + geometry.width,
                                             geometry.top + geometry.height))
        colours = shot.convert("L").getextrema()
        assert colours[1] - colours[0] > 100                           # buttons and labels, not blank


def test_accessibility_still_sees_a_sandboxed_gtk_app(display_binaries: None) -> None:
    with VirtualDisplay(size=(1280, 800), window_manager=True, dbus=True) as vd, \
            Sandbox(vd.display, vd.env) as box:
        assert box.spec.dbus_socket is not None and box.spec.a11y_dir is not None
        box.launch_app("galculator")
        reader = A11yReader(vd.env["DBUS_SESSION_BUS_ADDRESS"], app_names=("galculator",))
        result = wait_until(lambda: (r := reader.read()) and any(e.text == "7" for e in r.elements) and r,
                            timeout=15, what="the sandboxed galculator in the accessibility tree")
        assert any(e.role.endswith("button") for e in result.elements)  # type: ignore[attr-defined]


def test_a_launch_that_bwrap_cannot_set_up_names_bwrap(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    from actions.errors import UsageError

    with Sandbox(vdisplay.display, vdisplay.env) as box:
        # A bind whose source has gone away makes bwrap fail at set-up, after the probe passed.
        gone = tmp_path / "gone"
        box._spec = box.spec.model_copy(update={"xauthority": gone})
        with pytest.raises(UsageError) as info:
            box.launch_app("xcalc", timeout=5)
    message = str(info.value)
    assert message.startswith("--sandbox: bubblewrap could not start 'xcalc' (bwrap: ")
    assert "\n" not in message
    assert "--no-sandbox" in message


def test_doctor_sandbox_row_runs_bwrap() -> None:
    row = _sandbox_check()
    assert row.ok and row.name == "sandbox", row
    assert row.detail.startswith("bubblewrap ") and row.detail.endswith("works")


@pytest.mark.slow
def test_do_virtual_sandboxes_the_launched_app_by_default(outside: Path, tmp_path: Path) -> None:
    script = f"rm -rf {outside}/canary 2>/dev/null; test -e {outside}/canary && echo kept$((40+2)); sleep 60"
    r = run_cli("do", "wait for 'kept42' up to 10 s", "--virtual", "--launch", f"xterm -e sh -c '{script}'",
                "--record-dir", str(tmp_path / "rec"), "--json", env={"DISPLAY": ""}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (outside / "canary").read_text() == "still here"
    assert '"status": "done"' in r.stdout.strip().splitlines()[-1]


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_sandboxed_app_never_outlives_uiagent(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    """uiagent killed with SIGKILL (no clean-up runs): --die-with-parent still ends the app."""
    import os
    import signal
    import subprocess
    import uuid

    marker = f"uiagent-orphan-{uuid.uuid4().hex[:8]}"
    ready = tmp_path / "ready"
    code = ("import sys, time; from pathlib import Path; from agent.sandbox import Sandbox\n"
            f"box = Sandbox({vdisplay.display!r}, dict(__import__('os').environ)).__enter__()\n"
            f"box.launch(['sh', '-c', 'sleep 600', {marker!r}])\n"
            f"Path({str(ready)!r}).write_text('ok'); time.sleep(600)\n")
    owner = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **vdisplay.env},
                             cwd=Path(__file__).parents[2])
    try:
        wait_until(lambda: ready.exists() and len(_processes_with(marker)) >= 2, what="the sandboxed app")
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
    wait_until(lambda: not _processes_with(marker), timeout=10, what="the sandboxed app to die with uiagent")
