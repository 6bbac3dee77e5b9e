"""What the CLI asks of the person at the terminal: yes/no confirmations, and Ctrl-C/SIGTERM
turned into a stop request the loop honours after the current action."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from agent import status


def interrupt_handler() -> AbstractContextManager[threading.Event]:
    """SIGINT/SIGTERM: finish the current action, record the outcome, exit 3. A second one stops at once."""
    import signal
    import threading
    from contextlib import contextmanager

    @contextmanager
    def handler() -> Iterator[threading.Event]:
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            if stop.is_set():
                raise KeyboardInterrupt
            stop.set()

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield stop
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    return handler()

def confirm_safety_checks(checks: Any) -> bool:
    """OpenAI computer use's pending safety checks: acknowledged only when a person says yes."""
    if not sys.stdin.isatty():
        return False
    status.clear()  # the question must not be drawn over
    listed = "; ".join(c.message or c.code or c.id for c in checks)
    answer = input(f"uiagent: the model raised safety checks: {listed}. Acknowledge and go on? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def terminal_confirm(action: Any, verdict: Any) -> bool:
    if not sys.stdin.isatty():
        return False
    status.clear()
    answer = input(f"uiagent: {action.describe()} needs confirmation ({verdict.reason}). Go ahead? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
