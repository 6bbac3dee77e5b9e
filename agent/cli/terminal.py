"""What the CLI asks of the person at the terminal: yes/no confirmations, and Ctrl-C/SIGTERM
turned into a stop request the loop honours after the current action."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from agent import status


class Interrupts(threading.Event):
    """The stop request SIGINT/SIGTERM set (the loop's `stop`), and what came once the outcome was
    recorded: from then on (`ended`) a signal is only counted, so the clean-up (stopping the apps,
    the display) finishes and the summary line still prints."""

    def __init__(self) -> None:
        super().__init__()
        self.tearing_down = False
        self.late = 0  # signals that arrived during the clean-up

    def ended(self, outcome: object = None) -> None:
        self.tearing_down = True


def interrupt_handler() -> AbstractContextManager[Interrupts]:
    """SIGINT/SIGTERM: finish the current action, record the outcome, exit 3. A second one stops at
    once (recorded as `interrupted`). After the outcome is recorded, signals no longer cut the
    clean-up short (see `Interrupts`)."""
    import signal
    from contextlib import contextmanager

    @contextmanager
    def handler() -> Iterator[Interrupts]:
        stop = Interrupts()

        def on_signal(signum: int, frame: Any) -> None:
            if stop.tearing_down:
                stop.late += 1
                return
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
