"""Wait for the application's reaction to an action, then until the screen stops changing.

    result = settle(desktop, before=shot_before_action)
    result = settle(desktop, expect.before, expect=expect, windows=watcher)   # see agent.perception.reaction
    result.screenshot, result.waited_s, result.changed, result.timed_out, result.reaction

Grabs back to back and compares cheap fingerprints (see `capture.fingerprint`). The screen is still
when `quiet_grabs` consecutive grabs after a change are equal and at least `quiet_s` has passed
since the last change. With an `expect` whose deadline is above 0, it first polls (every
`poll_s`) until the app reacts or the deadline passes: a change of pixels outside the acted-on
widget's own highlight (`_reacted`), or of the windows. A screen that reacts at once costs no
extra wait. With `before` and `expect_change_s > 0` (no `expect`) it waits up to that long for the
screen to differ from `before` at all. `timeout_s` caps the stillness wait after the reaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from actions.desktop.base import Desktop, Screenshot
from actions.models import Box
from agent.perception.capture import FINGERPRINT_REDUCE, fingerprint, thumbnail
from agent.perception.reaction import Expectation, Reaction, Signal, WindowWatcher, window_signal
from agent.perception.regions import diff_bbox

log = logging.getLogger(__name__)

OWN_MAX = (400, 120)  # a changed blob around the widget larger than this is a reaction, not a highlight


@dataclass(frozen=True)
class SettleResult:
    """How settling went. `changed` is the bbox of the difference between `before` and the
    final frame (screen space), None when nothing changed or no `before` was given; `reaction`
    what was waited for after the action (None when no reaction was expected)."""

    screenshot: Screenshot
    waited_s: float
    grabs: int
    timed_out: bool
    changed: Box | None
    fingerprint: str
    reaction: Reaction | None = None

    @property
    def did_change(self) -> bool:
        return self.changed is not None


def settle(desktop: Desktop, before: Screenshot | None = None, expect: Expectation | None = None, *,
           quiet_s: float = 0.03, quiet_grabs: int = 2, timeout_s: float = 3.0, expect_change_s: float = 0.0,
           monitor: int | None = None, clock: Callable[[], float] = time.monotonic,
           windows: WindowWatcher | None = None, poll_s: float = 0.01,
           sleep: Callable[[float], None] = time.sleep) -> SettleResult:
    """Return once the app reacted (or its deadline passed) and the screen has been still for
    `quiet_grabs` grabs and `quiet_s` seconds."""
    start = clock()
    signal: Signal = ""
    reacted: float | None = None
    shot: Screenshot | None = None
    grabs = 0
    if expect is not None and expect.deadline_s > 0:
        before = expect.before
        signal, reacted, shot, grabs = _await_reaction(desktop, expect, windows, monitor, clock, poll_s, sleep)
        if signal == "stopped":
            return _result(shot, before, start, clock(), grabs, False, fingerprint(shot.image),
                           _reaction(expect, windows, signal, reacted, start, clock()))
    result = _still(desktop, before, shot, grabs, quiet_s=quiet_s, quiet_grabs=quiet_grabs, timeout_s=timeout_s,
                    expect_change_s=expect_change_s if expect is None else 0.0, monitor=monitor, clock=clock,
                    start=start, interrupt=expect.interrupt if expect else None)
    if expect is None or expect.deadline_s <= 0:
        return result
    if signal == "none":  # the deadline passed: what is different now (a caret's blink is not)
        late = _reacted(_cells(expect.before.image), result.screenshot, expect) if result.did_change else ""
        signal = late or "none"
    reaction = _reaction(expect, windows, signal, reacted, start, clock())
    return SettleResult(screenshot=result.screenshot, waited_s=result.waited_s, grabs=result.grabs,
                        timed_out=result.timed_out, changed=result.changed, fingerprint=result.fingerprint,
                        reaction=reaction)


def _reaction(expect: Expectation, windows: WindowWatcher | None, signal: Signal, reacted: float | None,
              start: float, end: float) -> Reaction:
    watched = ("pixels", *(("windows", "focus", "title") if windows is not None and expect.windows else ()))
    return Reaction(deadline_s=expect.deadline_s, waited_for=watched, signal=signal,
                    reacted_s=None if reacted is None else round(reacted, 3), settled_s=round(end - start, 3))


def _await_reaction(desktop: Desktop, expect: Expectation, windows: WindowWatcher | None, monitor: int | None,
                    clock: Callable[[], float], poll_s: float,
                    sleep: Callable[[float], None]) -> tuple[Signal, float | None, Screenshot, int]:
    """Poll until the app reacts or the deadline passes: (signal, seconds to the reaction, last shot, grabs)."""
    start = clock()
    base = _cells(expect.before.image)
    grabs = 0
    titled: tuple[float, Expectation] | None = None  # when the title changed; the window's inside only
    while True:
        shot = desktop.capture(monitor)
        grabs += 1
        signal: Signal = ""
        if titled is None and windows is not None and expect.windows is not None:
            state = windows.state()
            signal = window_signal(expect.windows, state)
            if signal == "title" and (inside := windows.content(state.active)) is not None:
                # A browser sets the new page's title as it commits the navigation and paints the
                # page some frames later (10-50 ms): until the window's inside changed too, a frame
                # still shows the old page. The title bar's own repaint is outside: not that.
                inside_only = replace(expect, live=(*expect.live, *_around(inside, shot)))
                titled, signal = (clock() - start, inside_only), ""
        if titled is not None and _reacted(base, shot, titled[1]) == "screen":
            return "title", titled[0], shot, grabs
        if not signal and titled is None and _reacted(base, shot, expect) == "screen":
            signal = "screen"
        now = clock()
        if signal:
            log.debug("reaction (%s) after %.0f ms", signal, (now - start) * 1000)
            return signal, now - start, shot, grabs
        if now - start >= expect.deadline_s:
            if titled is not None:  # a new title and nothing else (yet): that was the reaction
                return "title", titled[0], shot, grabs
            log.debug("no reaction within %.2fs", expect.deadline_s)
            return "none", None, shot, grabs
        if expect.interrupt is not None and expect.interrupt():
            return "stopped", None, shot, grabs
        sleep(min(poll_s, max(expect.deadline_s - (now - start), 0.0)))


def _around(inside: Box, shot: Screenshot) -> tuple[Box, ...]:
    """Four boxes covering the screen outside `inside` (a window's own area)."""
    left, top, right, bottom = shot.left, shot.top, shot.left + shot.size[0], shot.top + shot.size[1]
    return (Box(left=left, top=top, right=right, bottom=inside.top),
            Box(left=left, top=inside.bottom, right=right, bottom=bottom),
            Box(left=left, top=inside.top, right=inside.left, bottom=inside.bottom),
            Box(left=inside.right, top=inside.top, right=right, bottom=inside.bottom))


def _cells(image: object) -> np.ndarray:
    return np.asarray(thumbnail(image), dtype=np.uint8)  # type: ignore[arg-type]


def _mask(shape: tuple[int, int], boxes: tuple[Box, ...], shot: Screenshot) -> np.ndarray:
    """Cells (FINGERPRINT_REDUCE px) touched by `boxes` (screen space)."""
    mask = np.zeros(shape, dtype=bool)
    f = FINGERPRINT_REDUCE
    for b in boxes:
        top, left = max((b.top - shot.top) // f, 0), max((b.left - shot.left) // f, 0)
        bottom, right = -(-(b.bottom - shot.top) // f), -(-(b.right - shot.left) // f)
        if bottom > top and right > left:
            mask[top:bottom, left:right] = True
    return mask


def _reacted(base: np.ndarray, shot: Screenshot, expect: Expectation) -> Literal["screen", "widget", ""]:
    """"screen": pixels changed outside the widget's own highlight (the changed blobs of 8-connected
    cells that touch the widget's boxes and are no bigger than a widget are its own: "widget").
    `live` boxes are ignored, and after a pointer action (`own` given) so is a blinking caret; a
    focus ring that came or went elsewhere is the click's own doing too ("widget"): clicking a
    button takes the focus off the field typed into last, at once, long before the app reacts."""
    now = _cells(shot.image)
    if now.shape != base.shape:
        return "screen"
    changed = (now != base).any(axis=2) if now.ndim == 3 else now != base
    if expect.live:
        changed &= ~_mask(changed.shape, expect.live, shot)
    if not changed.any():
        return ""
    if not expect.own:
        return "screen"
    import cv2

    seeds = _mask(changed.shape, expect.own, shot)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(changed.astype(np.uint8), connectivity=8)
    f = FINGERPRINT_REDUCE
    widget = False
    for label in range(1, count):
        x, y = stats[label, cv2.CC_STAT_LEFT] * f, stats[label, cv2.CC_STAT_TOP] * f
        w, h = stats[label, cv2.CC_STAT_WIDTH] * f, stats[label, cv2.CC_STAT_HEIGHT] * f
        box = (x, y, x + w, y + h)
        if w <= OWN_MAX[0] and h <= OWN_MAX[1] and bool(seeds[labels == label].any()):
            widget = True  # the widget's own press flash or hover highlight (or a change inside it)
            continue
        diff = _diff(expect.before, shot, box)
        if w <= 3 * f and h <= 6 * f and _caret(diff):
            continue
        if not _focus_ring(diff):
            return "screen"
        widget = True
    return "widget" if widget else ""


RING_PX = 3          # the thickest focus ring or field border taken for one
RING_SIDES = 0.8     # each side of a ring changed along this share of its length at least


def _diff(before: Screenshot, shot: Screenshot, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels that differ in `box` (image space), as a boolean mask."""
    a = np.asarray(before.image.crop(box), dtype=np.int16)
    b = np.asarray(shot.image.crop(box), dtype=np.int16)
    return np.abs(a - b).reshape(a.shape[0], a.shape[1], -1).max(axis=2) > 0  # type: ignore[no-any-return]


def _caret(diff: np.ndarray) -> bool:
    """The changed pixels form a thin vertical line: a caret blinking (or nothing changed)."""
    cols, rows = np.flatnonzero(diff.any(axis=0)), np.flatnonzero(diff.any(axis=1))
    if not len(cols):
        return True
    return bool(cols[-1] - cols[0] < 3 and rows[-1] - rows[0] >= 2 * (cols[-1] - cols[0] + 1))


def _focus_ring(diff: np.ndarray) -> bool:
    """The changed pixels outline a rectangle (at most RING_PX thick, all four sides) with nothing
    inside but a caret: a field's focus ring coming or going. A filled or drawn-into area is not."""
    cols, rows = np.flatnonzero(diff.any(axis=0)), np.flatnonzero(diff.any(axis=1))
    if not len(cols):
        return False
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    if bottom - top < 4 * RING_PX or right - left < 4 * RING_PX:
        return False  # too small to have an inside: a line, a dot, a glyph
    ring = diff[top:bottom, left:right]
    r = RING_PX
    sides = (ring[:r].any(axis=0), ring[-r:].any(axis=0), ring[:, :r].any(axis=1), ring[:, -r:].any(axis=1))
    if any(side.mean() < RING_SIDES for side in sides):
        return False
    return _caret(ring[r:-r, r:-r])


def _still(desktop: Desktop, before: Screenshot | None, shot: Screenshot | None, grabs: int, *, quiet_s: float,
           quiet_grabs: int, timeout_s: float, expect_change_s: float, monitor: int | None,
           clock: Callable[[], float], start: float, interrupt: Callable[[], bool] | None) -> SettleResult:
    t0 = clock()
    base = fingerprint(before.image) if before is not None else None
    if shot is None:
        shot = desktop.capture(monitor)
        grabs += 1
    last = fingerprint(shot.image)
    equal = 0
    last_change = clock()
    seen_change = last != base
    while True:
        now = clock()
        if now - t0 >= timeout_s:
            log.info("settle: screen still changing after %.2fs (cap)", now - start)
            return _result(shot, before, start, clock(), grabs, True, last)
        waiting_first = not seen_change and now - t0 < expect_change_s
        if not waiting_first and equal >= quiet_grabs and now - last_change >= quiet_s:
            return _result(shot, before, start, now, grabs, False, last)
        if interrupt is not None and interrupt():
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
            timed_out: bool, fp: str, reaction: Reaction | None = None) -> SettleResult:
    changed = None
    if before is not None:
        box = diff_bbox(before.image, shot.image)
        if box is not None:
            changed = Box(left=box.left + shot.left, top=box.top + shot.top,
                          right=box.right + shot.left, bottom=box.bottom + shot.top)
    waited = end - start
    log.debug("settle: %.0f ms, %d grabs, changed=%s", waited * 1000, grabs, changed)
    return SettleResult(screenshot=shot, waited_s=waited, grabs=grabs, timed_out=timed_out,
                        changed=changed, fingerprint=fp, reaction=reaction)
