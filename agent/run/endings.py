"""How a run ends when something other than the task ends it, so the recording says what happened.

`ending(error, display)` names the known causes behind an exception that escaped a step: the X
server went away (`display :N closed`, whatever library noticed first: Xlib, mss, pynput), the
disk is full, an interrupt. Anything else stays an internal error (recorded as such, then raised).

`ThreadFaults` turns an exception in a library's own thread (pynput's kill-switch listener,
the recorder's encoder, dbus-next callbacks run on threads) into a recorded ending instead of a
traceback on stderr: `threading.excepthook` keeps the first one, logs it at DEBUG, and the loop
ends the run with it between steps.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from actions.errors import DISK_FULL, DiskFull, DisplayLost
from agent.display import reachable
from agent.recording.format import Outcome

log = logging.getLogger(__name__)



def ending(error: BaseException, display: str | None) -> Outcome | None:
    """The recorded ending for `error`, or None when it is not a known cause (a bug)."""
    if isinstance(error, KeyboardInterrupt):
        return Outcome(status="stopped", reason="interrupted")
    if isinstance(error, DisplayLost) or (display and not isinstance(error, DiskFull) and not reachable(display)):
        return Outcome(status="failed", reason=f"display {display} closed")
    if isinstance(error, DiskFull) or (isinstance(error, OSError) and error.errno in DISK_FULL):
        return Outcome(status="failed", reason=f"disk full: {error}" if isinstance(error, DiskFull) else
                       f"disk full: {error.strerror}")
    return None


X_LIBRARIES = ("Xlib", "mss", "pynput")  # the libraries whose errors a dead X server raises


def display_gone(error: BaseException, display: str | None) -> bool:
    """Whether `error` (one from outside a run, e.g. while launching an app) comes from an X
    library talking to `display`, which no longer answers (Xlib may also let the socket's own
    BrokenPipeError out, which must not pass for a closed stdout)."""
    library = type(error).__module__.split(".")[0]
    x_error = library in X_LIBRARIES or isinstance(error, ConnectionError)  # a raw socket error from Xlib
    return bool(display) and x_error and not reachable(str(display))


def internal(error: BaseException) -> Outcome:
    """What a bug's ending is recorded as (the CLI then reports it)."""
    text = str(error).splitlines()[0] if str(error) else ""
    return Outcome(status="error", reason=f"internal error: {type(error).__name__}: {text}")


class ThreadFaults:
    """While active, an exception that ends any thread is kept (the first), not printed."""

    def __init__(self) -> None:
        self.thread: str | None = None
        self.error: BaseException | None = None
        self._previous = threading.excepthook

    def __enter__(self) -> ThreadFaults:
        self._previous = threading.excepthook
        threading.excepthook = self._hook
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        threading.excepthook = self._previous

    def _hook(self, args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "?"
        if args.exc_value is None:
            return
        log.debug("thread %s failed", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
        if self.error is None:
            self.thread, self.error = name, args.exc_value

    def check(self, display: str | None) -> Outcome | None:
        """The ending a failed library thread means (None while none failed)."""
        if self.error is None:
            return None
        known = ending(self.error, display)
        if known is not None:
            return known
        text = str(self.error).splitlines()[0] if str(self.error) else ""
        return Outcome(status="failed", reason=f"the {self.thread} thread failed: {type(self.error).__name__}: {text}")
