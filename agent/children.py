"""Child processes that die with uiagent, even when uiagent is killed with SIGKILL.

Every program uiagent starts (Xvfb, openbox, the session dbus-daemon, `--launch` apps and their
bubblewrap) goes through `popen`, which asks the kernel for `PR_SET_PDEATHSIG` = SIGKILL in the
child before it execs: when uiagent dies, for any reason, the kernel kills the child. Nothing has
to run in a dying process, which is the point (SIGKILL runs no handler, no `finally`).

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
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

PR_SET_PDEATHSIG = 1

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
    """`subprocess.Popen(argv, **kwargs)` whose process is killed by the kernel when uiagent dies."""
    preexec = die_with_parent(os.getpid(), _prctl())

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(list(argv), preexec_fn=preexec, **kwargs)

    if threading.current_thread() is threading.main_thread():
        return start()
    done: Future[subprocess.Popen[bytes]] = Future()
    _spawn_queue().put((start, done))
    return done.result()


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
