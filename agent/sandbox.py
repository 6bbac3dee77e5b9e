"""Sandbox: the apps uiagent launches run under bubblewrap, so a destructive command that a model
gets past the guards cannot reach the user's files or the network.

    with Sandbox(display, env, net=False) as box:
        geometry = box.launch_app("xterm")      # as VirtualDisplay.launch_app, inside bwrap
        ... box.home ...                        # the app's private HOME (a host folder, for the run)

Inside, the whole file system is read-only (`--ro-bind / /`); HOME is a fresh folder of ours bound at
the same path (kept for the run so the app can write its config, then removed); /tmp is a private
tmpfs with only our X socket (and Xauthority) bound in; the session D-Bus socket and the AT-SPI bus
folder are bound in when there is a bus, so accessibility still sees the app; new PID and network
namespaces (loopback included) unless `net`; `--die-with-parent`, so nothing outlives uiagent.

What it does not protect: the app can still read what the user can (only writes are blocked), show
it on screen (which a model sees), and talk to the X server and to D-Bus services outside the
sandbox. Apps already running on a real display are not ours and not sandboxed.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict

from actions.errors import UsageError
from agent.children import popen
from agent.display import WindowGeometry, launch_app, terminate

log = logging.getLogger(__name__)

INSTALL_FIX = "install bubblewrap (apt install bubblewrap), or run with --no-sandbox"
SETUP_FIX = ("enable user namespaces (sysctl kernel.unprivileged_userns_clone=1 and "
             "user.max_user_namespaces > 0), or run with --no-sandbox")
RUNTIME_DIR = Path("/tmp/uiagent-runtime")  # the app's XDG_RUNTIME_DIR, inside the private /tmp


def sandbox_enabled(flag: bool | None, setting: bool | None, virtual: bool) -> bool:
    """`--sandbox/--no-sandbox`, else `[tool.uiagent] sandbox`, else on with `--virtual` only: on a
    private display the app is ours to contain; on the user's own display it is theirs."""
    if flag is not None:
        return flag
    if setting is not None:
        return setting
    return virtual


class SandboxSpec(BaseModel):
    """What the bwrap command line binds and unshares (all paths as the app sees them)."""

    model_config = ConfigDict(frozen=True)
    home: Path                          # HOME inside
    private_home: Path                  # the host folder bound at `home`
    x_socket: Path | None = None        # /tmp/.X11-unix/X<n> of the display
    xauthority: Path | None = None
    dbus_socket: Path | None = None     # the session bus, when it is a path
    a11y_dir: Path | None = None        # $XDG_RUNTIME_DIR/at-spi: the AT-SPI bus the app registers on
    net: bool = False
    root: bool = False                  # uiagent runs as root: drop its capabilities inside


def sandbox_command(cmd: Sequence[str], spec: SandboxSpec, bwrap: str = "bwrap") -> list[str]:
    """The bwrap argv that runs `cmd` as described in the module docstring. Order matters: bwrap
    mounts left to right, so binds below /tmp or HOME come after the tmpfs and the HOME bind."""
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--perms", "0700", "--dir", str(RUNTIME_DIR), "--bind", str(spec.private_home), str(spec.home)]
    for path, mode in ((spec.x_socket, "--ro-bind"), (spec.xauthority, "--ro-bind"),
                       (spec.dbus_socket, "--bind"), (spec.a11y_dir, "--bind")):
        if path is not None:
            argv += [mode, str(path), str(path)]
    argv += ["--unshare-pid", *([] if spec.net else ["--unshare-net"]), "--die-with-parent", "--new-session"]
    if spec.root:
        # Root keeps every capability inside bwrap (it could remount / read-write). Drop them all but
        # CAP_SETGID, which xterm needs as root (setgroups) and which cannot write a read-only mount.
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETGID"]
    return [*argv, "--chdir", str(spec.home), "--", *cmd]


def sandbox_env(env: dict[str, str], spec: SandboxSpec) -> dict[str, str]:
    """The app's environment: HOME, the XDG folders and XAUTHORITY inside the sandbox."""
    out = {k: v for k, v in env.items() if k not in ("WAYLAND_DISPLAY", "XAUTHORITY")}
    out.update(HOME=str(spec.home), PWD=str(spec.home), XDG_RUNTIME_DIR=str(RUNTIME_DIR),
               XDG_CONFIG_HOME=str(spec.home / ".config"), XDG_CACHE_HOME=str(spec.home / ".cache"),
               XDG_DATA_HOME=str(spec.home / ".local" / "share"))
    if spec.xauthority is not None:
        out["XAUTHORITY"] = str(spec.xauthority)
    return out


def x_socket_path(display: str) -> Path | None:
    """':3', ':3.0' or 'unix:3' -> /tmp/.X11-unix/X3; a TCP display ('host:3') has no socket."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if host not in ("", "unix") or not number.isdigit():
        return None
    return Path("/tmp/.X11-unix") / f"X{number}"


def dbus_socket_path(address: str | None) -> Path | None:
    """The socket of the first `unix:path=` entry of a D-Bus address (abstract sockets live in the
    network namespace and cannot be bound: they only work with --sandbox-net)."""
    for entry in (address or "").split(";"):
        kind, _, params = entry.partition(":")
        if kind != "unix":
            continue
        for pair in params.split(","):
            key, _, value = pair.partition("=")
            if key == "path" and value:
                return Path(value)
    return None


def find_bwrap(path: str | None = None) -> str:
    """bwrap's path; a UsageError with the fix when it is not installed."""
    found = shutil.which("bwrap", path=path)
    if not found:
        raise UsageError(f"--sandbox needs bubblewrap (bwrap), which is not installed: {INSTALL_FIX}")
    return found


def probe(bwrap: str, net: bool = False) -> str | None:
    """Run `bwrap <the sandbox's flags> true`: None if it works, else bwrap's first error line."""
    with tempfile.TemporaryDirectory(prefix="uiagent-sandbox-probe-") as scratch:
        spec = SandboxSpec(home=Path(scratch), private_home=Path(scratch), net=net, root=os.geteuid() == 0)
        try:
            done = subprocess.run(sandbox_command(["true"], spec, bwrap), capture_output=True, text=True,
                                  timeout=10, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{type(e).__name__}: {e}"
    if done.returncode == 0:
        return None
    return _first_error(done.stderr) or f"bwrap exited with code {done.returncode}"


def bwrap_version(bwrap: str) -> str:
    try:
        out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown version"
    return out.strip() or "unknown version"


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return next((line for line in lines if line.startswith("bwrap:")), lines[0] if lines else "")


class Sandbox:
    """Launches apps on `display` inside bubblewrap, as a context manager (see the module docstring).
    Everything launched is stopped and reaped, and the private HOME removed, on exit."""

    def __init__(self, display: str, env: dict[str, str], net: bool = False,
                 bwrap: str | None = None) -> None:
        self.display = display
        self.env = dict(env)
        self.net = net
        self.bwrap = bwrap or find_bwrap(self.env.get("PATH"))
        self.home = Path(self.env.get("HOME") or Path.home())
        self._scratch: Path | None = None
        self._spec: SandboxSpec | None = None
        self._procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def __enter__(self) -> Sandbox:
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
        """Check bwrap can set up a sandbox here (fails fast, with its own message), make the HOME."""
        problem = probe(self.bwrap, self.net)
        if problem:
            raise UsageError(f"--sandbox: bubblewrap cannot start a sandbox here ({problem}): {SETUP_FIX}")
        self._scratch = Path(tempfile.mkdtemp(prefix="uiagent-sandbox-"))
        private_home = self._scratch / "home"
        for sub in (".config", ".cache", ".local/share"):
            (private_home / sub).mkdir(parents=True)
        (self._scratch / "logs").mkdir()
        self._spec = self._make_spec(private_home)
        log.info("sandbox: HOME %s is %s, network %s", self.home, private_home, "on" if self.net else "off")

    def _make_spec(self, private_home: Path) -> SandboxSpec:
        x_socket = x_socket_path(self.display)
        if x_socket is not None and not x_socket.exists():
            log.warning("sandbox: no X socket %s; the app may not reach display %s", x_socket, self.display)
            x_socket = None
        xauth = Path(self.env.get("XAUTHORITY") or self.home / ".Xauthority")
        dbus = dbus_socket_path(self.env.get("DBUS_SESSION_BUS_ADDRESS"))
        a11y = None
        runtime = Path(self.env.get("XDG_RUNTIME_DIR") or "/nonexistent")
        if dbus is not None and runtime.is_dir():
            # The AT-SPI bus launcher (outside, started by the session bus) puts its socket here; it
            # may start only when the sandboxed app first asks, so bind the folder, made beforehand.
            try:
                (runtime / "at-spi").mkdir(mode=0o700, exist_ok=True)
                a11y = runtime / "at-spi"
            except OSError as e:
                log.warning("sandbox: no accessibility bus folder in %s: %s", runtime, e)
        return SandboxSpec(home=self.home, private_home=private_home, x_socket=x_socket,
                           xauthority=xauth if xauth.is_file() else None,
                           dbus_socket=dbus if dbus is not None and dbus.exists() else None,
                           a11y_dir=a11y, net=self.net, root=os.geteuid() == 0)

    @property
    def spec(self) -> SandboxSpec:
        """What is bound and unshared (after `start`)."""
        if self._spec is None:
            raise RuntimeError("the sandbox is not started")
        return self._spec

    @property
    def private_home(self) -> Path:
        """The host folder the app sees as HOME (exists during the run)."""
        return self.spec.private_home

    def launch(self, cmd: Sequence[str] | str, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a program inside the sandbox (its own process group; stopped on exit)."""
        argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        found = shutil.which(argv[0], path=self.env.get("PATH")) if argv else None
        if not found:
            raise UsageError(f"cannot launch {argv[0] if argv else cmd!r}: command not found")
        argv[0] = os.path.abspath(found)  # the app starts in its private HOME: a relative path would break
        errors = self.spec.private_home.parent / "logs" / f"{len(self._procs)}.stderr"
        with errors.open("wb") as err:
            proc = popen(sandbox_command(argv, self.spec, self.bwrap),
                         env=sandbox_env({**self.env, **kwargs.pop("env", {})}, self.spec),
                         stdin=subprocess.DEVNULL, stdout=kwargs.pop("stdout", subprocess.DEVNULL),
                         stderr=kwargs.pop("stderr", err), start_new_session=True, **kwargs)
        self._procs.append((proc, errors))
        return proc

    def launch_app(self, cmd: Sequence[str] | str, timeout: float = 10.0) -> WindowGeometry:
        """Start a program in the sandbox and wait for its window (see `agent.display.launch_app`).
        If bwrap itself failed to set up, the error says so with bwrap's own line."""
        try:
            return launch_app(cmd, self.display, self.env, timeout=timeout, launcher=self.launch)
        except UsageError as e:
            problem = self._setup_error()
            if problem:
                what = cmd if isinstance(cmd, str) else shlex.join(cmd)
                raise UsageError(f"--sandbox: bubblewrap could not start {what!r} ({problem}): "
                                 "check `uiagent doctor`, or run with --no-sandbox") from None
            raise e from None

    def _setup_error(self) -> str | None:
        if not self._procs:
            return None
        proc, errors = self._procs[-1]
        if proc.poll() is None:
            return None
        try:
            line = _first_error(errors.read_text(errors="replace"))
        except OSError:
            return None
        return line if line.startswith("bwrap:") else None

    def stop(self) -> None:
        for proc, _ in reversed(self._procs):
            terminate(proc)
        self._procs.clear()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
            self._spec = None
