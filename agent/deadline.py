"""The run's wall-clock deadline (`--timeout`), which every model request and retry wait is cut to.

    deadline = Deadline(settings.timeout).start()      # the CLI, as the command starts
    timeout = deadline.cut(120.0)                       # a request gets at most what remains
    if wait > deadline.remaining(): ...                 # a retry-after that would outlast the run

`Deadline(None)` never expires (library use without a timeout). A deadline that was not started
counts from its first `start()`; the loop starts it when the run begins if nobody did before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Deadline:
    seconds: float | None
    clock: Callable[[], float] = time.monotonic
    started_at: float | None = None

    def start(self) -> Deadline:
        """Start counting now (once: a second call keeps the first start)."""
        if self.started_at is None:
            self.started_at = self.clock()
        return self

    @property
    def at(self) -> float:
        """When it expires, on `clock`; inf without a deadline."""
        if self.seconds is None:
            return math.inf
        return (self.started_at if self.started_at is not None else self.clock()) + self.seconds

    def remaining(self) -> float:
        """Seconds left (never below 0); inf without a deadline."""
        if self.seconds is None:
            return math.inf
        return max(0.0, self.at - self.clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def cut(self, seconds: float) -> float:
        """`seconds`, or what remains of the deadline if that is less (0 once it expired)."""
        return max(0.0, min(seconds, self.remaining()))

    def limits(self, seconds: float) -> bool:
        """Whether the deadline, not `seconds`, is what bounds a wait of `seconds` starting now."""
        return self.remaining() < seconds

    def describe(self) -> str:
        return f"{self.seconds:g} s (--timeout)" if self.seconds is not None else "no --timeout"
