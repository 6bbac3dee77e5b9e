"""Child processes that die with uiagent, even when uiagent is killed with SIGKILL.

Every program uiagent starts (Xvfb, openbox, the session dbus-daemon, `--launch` apps and their
bubblewrap) goes through `popen`, which asks the kernel for `PR_SET_PDEATHSIG` = SIGKILL in the
child before it runs the program: when uiagent dies, for any reason, the kernel kills the child.
Nothing has to run in a dying process, which is the point (SIGKILL runs no handler, no `finally`).

The child sets it by exec'ing util-linux's `setpriv --pdeathsig KILL -- /bin/sh -c GUARD sh CMD`:
the setting survives each exec, and `GUARD` then exits if uiagent already died before the prctl
(the child was re-parented: no signal would come), else execs CMD (same pid all along, so windows
still match `_NET_WM_PID`). That keeps Popen's vfork path: a Python `preexec_fn` forces a full
fork() of a big process, 2-3 times the cost (`bench/lifecycle.py`). Without a `setpriv`
that knows `--pdeathsig`, a `preexec_fn` does both itself (prctl, then the parent check).

The kernel sends that signal when the *thread* that forked the child ends, not the process. So
`popen` forks on the main thread (alive as long as the run) and, called from any other thread,
hands the fork to one spawner thread that lives as long as the process. The child also checks,
before it execs, that its parent is still the process that forked it: a uiagent killed between the
fork and the prctl call would otherwise leave it running.

Grandchildren are not covered by the signal: bubblewrap's `--die-with-parent` and its PID namespace
take a sandboxed app's whole tree down, and on a virtual display every X client loses its server.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

PR_SET_PDEATHSIG = 1
# Run by /bin/sh once setpriv set the death signal: if uiagent died before that, this process was
# re-parented and must not go on (no signal would ever come); else it becomes the program.
GUARD = 'test "$PPID" = %d || exit 1; exec "$@"'

_libc: Any = None
_spawner: queue.SimpleQueue[tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]] | None = None
_spawner_lock = threading.Lock()


def _prctl() -> Any:
    """libc's prctl, resolved in the parent (a forked child should not load libraries)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return _libc.prctl


def die_with_parent(parent: int, prctl: Any) -> Callable[[], None]:
    """The preexec function: SIGKILL when the forking thread ends; exit now if it is already gone."""
    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
    return preexec


def popen(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(argv, **kwargs)` whose process is killed by the kernel when uiagent dies.
    A program that cannot be found is a FileNotFoundError, as with Popen."""
    argv = list(argv)
    parent = os.getpid()
    setpriv = _setpriv()
    if setpriv is not None:
        env = kwargs.get("env")
        if not argv or shutil.which(argv[0], path=env.get("PATH") if env is not None else None) is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", argv[0] if argv else "")

    def start() -> subprocess.Popen[bytes]:
        if setpriv is not None:
            proc = subprocess.Popen([setpriv, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", GUARD % parent,
                                     "sh", *argv], **kwargs)
            proc.args = argv  # what runs once setpriv exec'd it (messages, repr)
            return proc
        return subprocess.Popen(argv, preexec_fn=die_with_parent(parent, _prctl()), **kwargs)

    if threading.current_thread() is threading.main_thread():
        return start()
    done: Future[subprocess.Popen[bytes]] = Future()
    _spawn_queue().put((start, done))
    return done.result()


@functools.cache
def _setpriv() -> str | None:
    """setpriv's path when it takes --pdeathsig (util-linux 2.33+), else None."""
    found = shutil.which("setpriv")
    if found is None:
        return None
    try:
        ok = subprocess.run([found, "--pdeathsig", "KILL", "--", "true"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if ok else None


def _spawn_queue() -> queue.SimpleQueue[tuple[Callable[[], subprocess.Popen[bytes]],
                                              Future[subprocess.Popen[bytes]]]]:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
            threading.Thread(target=_spawn_loop, args=(jobs,), name="uiagent-spawner", daemon=True).start()
            _spawner = jobs
        return _spawner


def _spawn_loop(jobs: queue.SimpleQueue[Any]) -> None:
    while True:
        start, done = jobs.get()
        try:
            done.set_result(start())
        except BaseException as e:  # handed to the caller's thread
            done.set_exception(e)
