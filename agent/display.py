"""VirtualDisplay: a private X server (Xvfb), optionally with openbox and a session D-Bus.

    with VirtualDisplay(size=(1280, 800), window_manager=True) as vd:
        proc = vd.launch(["xcalc"])
        vd.wait_for_window(pid=proc.pid, name="xcalc")
        ... vd.env["DISPLAY"] ...

Xvfb picks a free display itself (`-displayfd`), so several can run at once without races.
HOME and the XDG folders point at a private temp folder. Everything started here is torn down on
exit, on exceptions too.
"""

from __future__ import annotations

import itertools
import logging
import os
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict

from actions.desktop.base import WindowInfo
from actions.errors import DisplayError, DisplayLost, UsageError
from agent import status
from agent.children import popen

log = logging.getLogger(__name__)


class WindowGeometry(BaseModel):
    model_config = ConfigDict(frozen=True)
    window: WindowInfo
    left: int
    top: int
    width: int
    height: int


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080); UsageError otherwise."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"bad screen size {text!r}: write it as WIDTHxHEIGHT, e.g. 1280x800") from None
    if not (200 <= w <= 8192 and 200 <= h <= 8192):
        raise UsageError(f"screen size {text!r} out of range: each side must be 200..8192")
    return w, h


class VirtualDisplay:
    """Xvfb on a free display, as a context manager (see the module docstring)."""

    def __init__(self, size: tuple[int, int] = (1280, 800), window_manager: bool = True,
                 dbus: bool = False, depth: int = 24, start_timeout: float = 10.0) -> None:
        self.size = size
        self.depth = depth
        self.window_manager = window_manager
        self.dbus = dbus
        self.start_timeout = start_timeout
        self.display = ""
        self.env: dict[str, str] = {}
        self._home: Path | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._xvfb: subprocess.Popen[bytes] | None = None
        self._dbus: subprocess.Popen[bytes] | None = None

    # -- lifecycle

    def __enter__(self) -> VirtualDisplay:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        xvfb = shutil.which("Xvfb")
        if not xvfb:
            raise DisplayError("Xvfb not found: install it with `apt-get install xvfb` "
                               "(or run the README's setup command)")
        self._home = Path(tempfile.mkdtemp(prefix="uiagent-home-"))
        for sub in ("config", "cache", "data", "runtime"):
            (self._home / sub).mkdir()
        (self._home / "runtime").chmod(0o700)
        self._start_xvfb(xvfb)
        self.env = self._child_env()
        if self.dbus:
            self._start_dbus()
        if self.window_manager:
            self._start_openbox()
        log.info("virtual display %s (%dx%d) ready", self.display, *self.size)

    def _start_xvfb(self, xvfb: str) -> None:
        read_fd, write_fd = os.pipe()
        w, h = self.size
        cmd = [xvfb, "-displayfd", str(write_fd), "-screen", "0", f"{w}x{h}x{self.depth}",
               "-nolisten", "tcp", "-noreset", "+extension", "RECORD", "+extension", "XTEST"]
        self._xvfb = popen(cmd, pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           start_new_session=True)
        os.close(write_fd)
        try:
            number = self._read_display_number(read_fd)
        finally:
            os.close(read_fd)
        self.display = f":{number}"

    def _read_display_number(self, fd: int) -> str:
        deadline = time.monotonic() + self.start_timeout
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(remaining, 0))
            if not ready:
                raise DisplayError(f"Xvfb did not start within {self.start_timeout:g}s")
            chunk = os.read(fd, 64)
            if not chunk:
                err = self._xvfb.stderr.read().decode(errors="replace") if self._xvfb and self._xvfb.stderr else ""
                raise DisplayError(f"Xvfb exited at start: {err.strip().splitlines()[-1] if err.strip() else 'no output'}")
            data += chunk
        return data.decode().strip()

    def _child_env(self) -> dict[str, str]:
        assert self._home is not None
        env = {k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "XAUTHORITY")}
        env.update(
            DISPLAY=self.display,
            HOME=str(self._home),
            XDG_CONFIG_HOME=str(self._home / "config"),
            XDG_CACHE_HOME=str(self._home / "cache"),
            XDG_DATA_HOME=str(self._home / "data"),
            XDG_RUNTIME_DIR=str(self._home / "runtime"),
            XDG_SESSION_TYPE="x11",
            NO_AT_BRIDGE="0" if self.dbus else "1",
        )
        return env

    def _start_dbus(self) -> None:
        if not shutil.which("dbus-daemon"):
            raise DisplayError("dbus-daemon not found: install it with `apt-get install dbus`")
        # --nofork: the daemon stays our child, so it dies with uiagent (agent.children); a forked
        # one would be re-parented to init and outlive a killed run.
        # The address comes on a pipe of its own: the services the bus starts (the AT-SPI bus
        # launcher) inherit its stdout, which must not be a pipe nobody reads any more.
        read_fd, write_fd = os.pipe()
        try:
            self._dbus = popen(["dbus-daemon", "--session", "--nofork", f"--print-address={write_fd}"],
                               env=self.env, pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            os.close(write_fd)
            write_fd = -1
            address = _read_line(read_fd, self.start_timeout, "dbus-daemon")
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address
        self.env["GTK_MODULES"] = "gail:atk-bridge"

    def _start_openbox(self) -> None:
        if not shutil.which("openbox"):
            raise DisplayError("openbox not found: install it with `apt-get install openbox`, "
                               "or start the display without a window manager")
        config = resources.files("agent") / "data" / "openbox-rc.xml"
        with resources.as_file(config) as path:
            rc = Path(self.env["HOME"]) / "openbox-rc.xml"
            shutil.copyfile(path, rc)
        # openbox claims the screen (_NET_SUPPORTING_WM_CHECK) before it can manage windows; a
        # window mapped in between stays unmapped forever. `--startup` runs once it is ready.
        ready = Path(self.env["HOME"]) / "openbox-ready"
        proc = self.launch(["openbox", "--config-file", str(rc), "--startup", f"touch {ready}"])
        self._wait(lambda: (ready.exists() and _wm_running(self.display)) or proc.poll() is not None,
                   10.0, "openbox to start")
        if proc.poll() is not None:
            raise DisplayError("openbox exited at start")

    def stop(self) -> None:
        for proc in reversed(self._procs):
            terminate(proc)
        self._procs.clear()
        if self._dbus is not None:
            terminate(self._dbus)
            self._dbus = None
        if self._xvfb is not None:
            terminate(self._xvfb)
            if self._xvfb.stderr:
                self._xvfb.stderr.close()
            self._xvfb = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    # -- apps

    def launch(self, cmd: Sequence[str] | str, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a program on this display (its own process group; stopped with the display)."""
        proc = launch(cmd, {**self.env, **kwargs.pop("env", {})}, **kwargs)
        self._procs.append(proc)
        return proc

    def launch_app(self, cmd: Sequence[str] | str, timeout: float = 10.0) -> WindowGeometry:
        """Start a program and wait for its window (see `launch_app`)."""
        return launch_app(cmd, self.display, self.env, timeout=timeout, launcher=self.launch)

    def wait_for_window(self, name: str | None = None, pid: int | None = None,
                        timeout: float = 10.0) -> WindowGeometry:
        """Wait until a mapped top-level window whose class or title contains `name` (or whose
        _NET_WM_PID is `pid`) exists; return it with its position on screen."""
        return wait_for_window(self.display, name=name, pid=pid, timeout=timeout)

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        _poll(ready, timeout, what)


# --------------------------------------------------------------------------- launching


def launch(cmd: Sequence[str] | str, env: dict[str, str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a program in its own process group; a missing command is a UsageError."""
    argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    if not argv or not shutil.which(argv[0], path=env.get("PATH")):
        raise UsageError(f"cannot launch {argv[0] if argv else cmd!r}: command not found")
    return popen(argv, env=env, stdout=kwargs.pop("stdout", subprocess.DEVNULL),
                 stderr=kwargs.pop("stderr", subprocess.DEVNULL), start_new_session=True, **kwargs)


def launch_app(cmd: Sequence[str] | str, display: str, env: dict[str, str], timeout: float = 10.0,
               launcher: Any = None) -> WindowGeometry:
    """Start `cmd` on `display` and wait for its window (by process id, by name, or the first new
    top-level window), then until its app takes input (`responsive`). A program that exits first,
    or shows no window in time, is a UsageError."""
    argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    before = window_ids(display)
    proc = launcher(argv) if launcher else launch(argv, env)
    name = os.path.basename(argv[0])
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = wait_for_window(display, name=name, pid=proc.pid, new_since=before, timeout=0.2)
        except DisplayError:
            if not reachable(display):
                raise DisplayLost(f"display {display} closed") from None
            if proc.poll() is not None:
                raise UsageError(f"--launch {shlex.join(argv)!r} exited with code {proc.returncode} "
                                 "before showing a window") from None
            if time.monotonic() > deadline:
                raise UsageError(f"--launch {shlex.join(argv)!r} showed no window within {timeout:g}s") from None
            continue
        # A window is mapped before its app takes input (LibreOffice goes on loading): wait until
        # its event loop answers promptly.
        if responsive(display, found.window.window_id, timeout=max(deadline - time.monotonic(), 1.0)) is False:
            log.warning("--launch %s: its window does not answer pings yet; going on", shlex.join(argv))
        return found


PROMPT_S = 0.1  # a ping answered this fast: the app's event loop is idle, so it takes input now
FINISH_S = 5.0  # how long a launched app may take to finish what it was doing before it is stopped


def let_finish(display: str, window: int, timeout: float = FINISH_S) -> None:
    """Before a launched app is stopped at the end of a run: wait until it answers a ping, i.e.
    until its event loop has handled everything sent to it (the Return that saves a file, the
    save itself), so stopping it loses nothing the run did. Quiet when the app or display is gone."""
    try:
        responsive(display, window, timeout=timeout)
    except Exception as e:  # the display or the window went away meanwhile: nothing to wait for
        log.debug("not waiting for window %#x to finish: %s", window, e)


def responsive(display: str, window: int, timeout: float = 10.0) -> bool | None:
    """Whether the app owning top-level `window` answers the EWMH ping (`_NET_WM_PING`, the window
    manager's "is it hung?" probe; GTK, Qt, LibreOffice and Chromium answer it) within `PROMPT_S`,
    tried until `timeout`. An answer comes only once its event loop handled all that came before
    (an XSync for the app). None: the window does not take part (Tk, Xaw) or is gone."""
    from Xlib import X
    from Xlib.display import Display
    from Xlib.protocol.event import ClientMessage

    x = Display(display)
    try:
        win = x.create_resource_object("window", window)
        ping, protocols = x.intern_atom("_NET_WM_PING"), x.intern_atom("WM_PROTOCOLS")
        try:
            if ping not in (win.get_wm_protocols() or ()):
                return None
        except Exception:  # BadWindow: it went away
            return None
        root = x.screen().root
        root.change_attributes(event_mask=X.SubstructureNotifyMask)  # the answer is sent to the root
        deadline = time.monotonic() + timeout
        for stamp in itertools.count(1):
            win.send_event(ClientMessage(window=win, client_type=protocols, data=(32, [ping, stamp, window, 0, 0])),
                           event_mask=X.NoEventMask)
            x.flush()
            sent = time.monotonic()
            if _pong(x, protocols, ping, stamp, until=min(sent + 2.0, deadline)) and \
                    time.monotonic() - sent <= PROMPT_S:
                return True
            if time.monotonic() >= deadline:
                break
        return False
    finally:
        x.close()


def _pong(x: Any, protocols: int, ping: int, stamp: int, until: float) -> bool:
    """Wait until the answer to ping `stamp` arrives (True) or `until` passes (False)."""
    from Xlib import X

    while True:
        while x.pending_events():
            e = x.next_event()
            if e.type == X.ClientMessage and e.client_type == protocols and list(e.data[1][:2]) == [ping, stamp]:
                return True
        left = until - time.monotonic()
        if left <= 0:
            return False
        select.select([x.fileno()], [], [], min(left, 0.05))


# --------------------------------------------------------------------------- helpers


def _read_line(fd: int, timeout: float, what: str) -> str:
    """The first line a child writes to `fd`, within `timeout`; DisplayError otherwise."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            raise DisplayError(f"{what} did not start within {timeout:g}s")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise DisplayError(f"{what} exited at start")
        data += chunk
    return data.decode().strip()


def _poll(ready: Any, timeout: float, what: str, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = ready()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DisplayError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.1)


def reachable(display: str, timeout: float = 2.0) -> bool:
    """Whether an X server answers on `display`: a local one is asked on its socket (a killed
    server leaves the socket file, which refuses), any other by opening a connection."""
    import socket

    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if host in ("", "unix") and number.isdigit():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            try:
                s.connect(f"/tmp/.X11-unix/X{number}")
            except OSError:
                return False
            return True
    from Xlib.display import Display
    try:
        Display(display).close()
    except Exception:  # Xlib's connection errors, or a bad name
        return False
    return True


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own group (SIGTERM to the group, SIGKILL after 3 s) and reap it."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        try:
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            name = os.path.basename(str(proc.args[0] if isinstance(proc.args, list | tuple) else proc.args))
            status.show(f"waiting for {name} (pid {proc.pid}) to exit", until=time.monotonic() + 2.8)
            proc.wait(timeout=2.8)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=3)


def _wm_running(display: str) -> bool:
    from Xlib.display import Display

    x = Display(display)
    try:
        prop = x.screen().root.get_full_property(x.intern_atom("_NET_SUPPORTING_WM_CHECK"), 0)
        return bool(prop and len(prop.value))
    finally:
        x.close()


def wait_for_window(display: str, name: str | None = None, pid: int | None = None,
                    timeout: float = 10.0, new_since: frozenset[int] | None = None) -> WindowGeometry:
    """Poll the X server until a matching mapped top-level window exists and has stopped moving
    (a window manager places and decorates a window just after it maps). With `new_since`
    (window ids from `window_ids`), any window not in it matches too."""
    from Xlib.display import Display

    try:
        x = Display(display)
    except Exception as e:
        raise DisplayError(f"cannot open display {display!r}: {e}") from e
    try:
        what = f"a window named {name!r}" if name else f"a window of process {pid}"
        last: list[WindowGeometry | None] = [None]

        def settled() -> WindowGeometry | None:
            found = _find_window(x, name, pid, new_since)
            if found is not None and found == last[0]:
                return found
            last[0] = found
            return None

        return _poll(settled, timeout, what, interval=0.03)  # type: ignore[no-any-return]
    finally:
        x.close()


def window_ids(display: str) -> frozenset[int]:
    """Ids of the top-level windows now (to spot the one a launched program opens)."""
    from Xlib.display import Display

    x = Display(display)
    try:
        return frozenset(int(w.id) for w in _client_windows(x, x.screen().root))
    finally:
        x.close()


def _find_window(x: Any, name: str | None, pid: int | None,
                 new_since: frozenset[int] | None = None) -> WindowGeometry | None:
    from Xlib import X

    root = x.screen().root
    needle = name.lower() if name else None
    pid_atom = x.intern_atom("_NET_WM_PID")
    utf8_name = (x.intern_atom("_NET_WM_NAME"), x.intern_atom("UTF8_STRING"))
    for win in _client_windows(x, root):
        try:
            attrs = win.get_attributes()
            if attrs.map_state != X.IsViewable:
                continue
            cls = win.get_wm_class() or ("", "")
            # The EWMH title first: Chromium and other apps set WM_NAME as UTF8_STRING, which
            # get_wm_name (type STRING) does not return, and only _NET_WM_NAME carries non-Latin-1 text.
            utf8 = win.get_full_property(*utf8_name)
            title = utf8.value.decode("utf-8", "replace") if utf8 else (win.get_wm_name() or "")
            matched = False
            if needle and (needle in cls[0].lower() or needle in cls[1].lower() or needle in str(title).lower()):
                matched = True
            if pid is not None and not matched:
                prop = win.get_full_property(pid_atom, 0)
                matched = bool(prop and len(prop.value) and int(prop.value[0]) == pid)
            if not matched and new_since is not None:
                matched = int(win.id) not in new_since and bool(cls[0] or title)
            if not matched:
                continue
            geom = win.get_geometry()
            pos = root.translate_coords(win, 0, 0)
            info = WindowInfo(title=str(title), app=str(cls[1] or cls[0]), window_id=int(win.id))
            return WindowGeometry(window=info, left=pos.x, top=pos.y, width=geom.width, height=geom.height)
        except Exception:  # the window went away while we looked at it
            continue
    return None


def _client_windows(x: Any, root: Any) -> list[Any]:
    """Top-level windows: the window manager's client list, then root's children and their
    children (unmanaged and override-redirect windows, or no window manager at all)."""
    prop = root.get_full_property(x.intern_atom("_NET_CLIENT_LIST"), 0)
    found = [x.create_resource_object("window", int(w)) for w in prop.value] if prop else []
    from Xlib.error import BadWindow

    for child in root.query_tree().children:
        found.append(child)
        try:
            found.extend(child.query_tree().children)
        except BadWindow:  # it went away between the two queries (an app mapping its windows)
            continue
    return found
