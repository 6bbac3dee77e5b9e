"""Wait until the screen stops changing, without fixed sleeps.

    result = settle(desktop, before=shot_before_action)
    result.screenshot, result.waited_s, result.changed, result.timed_out

Grabs back to back and compares cheap fingerprints (see `capture.fingerprint`). The screen is still
when `quiet_grabs` consecutive grabs after a change are equal and at least `quiet_s` has passed
since the last change. With `before` (a frame taken before the action) and `expect_change_s > 0`
it first waits up to that long for the screen to differ from `before`, because an app may take a
few milliseconds to react; a screen that never changes ends the wait then. `timeout_s` caps it all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from actions.desktop.base import Desktop, Screenshot
from actions.models import Box
from agent.perception.capture import fingerprint
from agent.perception.regions import diff_bbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SettleResult:
    """How settling went. `changed` is the bbox of the difference between `before` and the
    final frame (screen space), None when nothing changed or no `before` was given."""

    screenshot: Screenshot
    waited_s: float
    grabs: int
    timed_out: bool
    changed: Box | None
    fingerprint: str

    @property
    def did_change(self) -> bool:
        return self.changed is not None


def settle(desktop: Desktop, before: Screenshot | None = None, *, quiet_s: float = 0.03,
           quiet_grabs: int = 2, timeout_s: float = 3.0, expect_change_s: float = 0.0,
           monitor: int | None = None, clock: Callable[[], float] = time.monotonic) -> SettleResult:
    """Return as soon as the screen has been still for `quiet_grabs` grabs and `quiet_s` seconds."""
    start = clock()
    base = fingerprint(before.image) if before is not None else None
    shot = desktop.capture(monitor)
    last = fingerprint(shot.image)
    grabs, equal = 1, 0
    last_change = clock()
    seen_change = last != base
    while True:
        now = clock()
        if now - start >= timeout_s:
            log.info("settle: screen still changing after %.2fs (cap)", now - start)
            return _result(shot, before, start, clock(), grabs, True, last)
        waiting_first = not seen_change and now - start < expect_change_s
        if not waiting_first and equal >= quiet_grabs and now - last_change >= quiet_s:
            return _result(shot, before, start, now, grabs, False, last)
        shot = desktop.capture(monitor)
        grabs += 1
        current = fingerprint(shot.image)
        if current == last:
            equal += 1
        else:
            equal, last, last_change = 0, current, clock()
            seen_change = seen_change or current != base


def _result(shot: Screenshot, before: Screenshot | None, start: float, end: float, grabs: int,
            timed_out: bool, fp: str) -> SettleResult:
    changed = None
    if before is not None:
        box = diff_bbox(before.image, shot.image)
        if box is not None:
            changed = Box(left=box.left + shot.left, top=box.top + shot.top,
                          right=box.right + shot.left, bottom=box.bottom + shot.top)
    waited = end - start
    log.debug("settle: %.0f ms, %d grabs, changed=%s", waited * 1000, grabs, changed)
    return SettleResult(screenshot=shot, waited_s=waited, grabs=grabs, timed_out=timed_out,
                        changed=changed, fingerprint=fp)
