"""The live status line on a terminal: the CLI's `agent.status.StatusSink`.

One transient line on stderr (rich `Live`), redrawn ten times a second with how long the status
has been shown (`thinking... 3.2s`) or, with `until`, the seconds left (`retrying in 2s (HTTP 429)`,
`wait 4s`). `clear` erases it: StepPrinter clears before every line it prints, the confirmation
prompts before they ask, and `status.use` when the command ends, so no line ever lands inside it.
The CLI uses it only when stderr is a terminal and not with `--json` (`agent.cli.app`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from rich.console import Console
from rich.live import Live
from rich.text import Text

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class RichStatus:
    def __init__(self, console: Console | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.clock = clock
        self._lock = threading.Lock()
        self._text: str | None = None
        self._until: float | None = None
        self._since = 0.0
        self._live: Live | None = None

    def show(self, text: str, until: float | None = None) -> None:
        with self._lock:
            self._text, self._until, self._since = text, until, self.clock()
            if self._live is None:
                self._live = Live(_Line(self), console=self.console, transient=True, refresh_per_second=10,
                                  redirect_stdout=False, redirect_stderr=False)
                self._live.start(refresh=True)
            else:
                self._live.refresh()

    def clear(self) -> None:
        with self._lock:
            live, self._live, self._text = self._live, None, None
        if live is not None:
            live.stop()  # transient: the line is erased

    def line(self) -> str:
        """The status as drawn now, without the spinner ("" when nothing is shown)."""
        text, until, since = self._text, self._until, self._since
        if text is None:
            return ""
        now = self.clock()
        if until is None:
            return f"{text} {now - since:.1f}s"
        left = f"{math.ceil(max(0.0, until - now)):.0f}s"
        return text.replace("{left}", left) if "{left}" in text else f"{text} {left}"


class _Line:
    """The renderable `Live` redraws: the status's text is never parsed as rich markup."""

    def __init__(self, status: RichStatus) -> None:
        self.status = status

    def __rich__(self) -> Text:
        frame = _SPINNER[int(time.monotonic() * 10) % len(_SPINNER)]
        return Text.assemble((frame + " ", "cyan"), (self.status.line(), "dim"))
