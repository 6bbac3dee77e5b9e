"""Is the run getting anywhere? Stuck detection for the agent loop.

Stuck means: the same action three times with no screen change, or an A-B-A-B oscillation
between two actions while the screen keeps coming back to the same frames. The first time, the
loop tells the model (a note in the history); the second time it gives up with the reason.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from actions.models import Action, action_point


def signature(action: Action) -> str:
    """Actions that do the same thing compare equal (points within ~8 px count as the same)."""
    point = action_point(action)
    where = f"@{point.x // 8},{point.y // 8}" if point else ""
    detail = action.model_dump(exclude={"x", "y", "path", "target", "kind"}, exclude_defaults=True)
    return f"{action.kind}{where}{sorted(detail.items())}"


@dataclass
class StuckDetector:
    repeats: int = 3
    _history: deque[tuple[str, bool, str]] = field(default_factory=lambda: deque(maxlen=6))
    warned: bool = False

    def record(self, action: Action, changed: bool, frame_after: str) -> str | None:
        """Add one performed action; return why the run looks stuck, or None."""
        self._history.append((signature(action), changed, frame_after))
        return self._repeated() or self._oscillating()

    def _repeated(self) -> str | None:
        last = list(self._history)[-self.repeats:]
        if len(last) == self.repeats and len({s for s, _, _ in last}) == 1 and not any(c for _, c, _ in last):
            return f"the same action was repeated {self.repeats} times and the screen did not change"
        return None

    def _oscillating(self) -> str | None:
        last = list(self._history)[-4:]
        if len(last) < 4:
            return None
        (a1, _, f1), (b1, _, f2), (a2, _, f3), (b2, _, f4) = last
        if a1 == a2 and b1 == b2 and a1 != b1 and f1 == f3 and f2 == f4:
            return "the run is going back and forth between two actions (A-B-A-B) without progress"
        return None

    def verdict(self, reason: str | None) -> str:
        """'ok', 'warn' (tell the model once) or 'give_up'."""
        if reason is None:
            return "ok"
        if not self.warned:
            self.warned = True
            self._history.clear()
            return "warn"
        return "give_up"
