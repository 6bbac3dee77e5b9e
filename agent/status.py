"""What the run is doing right now, for the live status line.

Any layer may say what it is waiting on (start-up, a model call, a retry's countdown, a wait, a
replay lookup); only the CLI draws it (`agent.cli.status`), so this module is all the lower layers
import. The sink is per process and set by whoever owns the terminal:

    with status.use(sink):          # the CLI, for one command
        status.show("connecting to openai-cua:gpt-5.4")
        status.show("retrying after HTTP 429", until=time.monotonic() + 3)   # a countdown

Without a sink (library use, tests, `--json`) `show` does nothing. A sink draws how long a status
has been shown (`thinking... 3.2s`); with `until` it draws the seconds left instead, in place of
`{left}` in the text (`retrying in {left} (HTTP 429)`), else after it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class StatusSink(Protocol):
    def show(self, text: str, until: float | None = None) -> None:
        """Replace the status with `text`; `until` (time.monotonic()) draws a countdown to it
        (in place of `{left}` in `text`, else after it)."""
        ...

    def clear(self) -> None:
        """Nothing is in progress (a step line is about to print, or the command ends)."""
        ...


class NoStatus:
    def show(self, text: str, until: float | None = None) -> None:
        pass

    def clear(self) -> None:
        pass


class ListStatus:
    """The fake: keeps every status shown, for tests."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, float | None]] = []
        self.cleared = 0

    def show(self, text: str, until: float | None = None) -> None:
        self.shown.append((text, until))

    def clear(self) -> None:
        self.cleared += 1

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self.shown]


_lock = threading.Lock()
_sink: StatusSink = NoStatus()


def show(text: str, until: float | None = None) -> None:
    _sink.show(text, until)


def clear() -> None:
    _sink.clear()


@contextmanager
def use(sink: StatusSink) -> Iterator[StatusSink]:
    """Route every `show` in this process to `sink` while the block runs."""
    global _sink
    with _lock:
        previous, _sink = _sink, sink
    try:
        yield sink
    finally:
        sink.clear()
        with _lock:
            _sink = previous
