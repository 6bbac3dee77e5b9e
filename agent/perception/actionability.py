"""Actionability and read-back: the real `actions.readiness.Readiness` (the desktop version of
Playwright's auto-wait), built by `agent.run.wiring`.

Before a click: the target point is on screen, stable (the pixels around it equal in two grabs
`gap_s` apart), not covered (when the target's box is known, its pixels still look as in the frame
the action was planned on, `expect`: first action after an observation only) and, when
accessibility knows the accessible there, sensitive. Before Return (or
KP_Enter) into a window whose default push button accessibility reports (a GTK file chooser's
"Save"): that button is sensitive, since Return does nothing until it is; accessibility must
answer about the window X says is active (a read that timed out, or an "active" frame that lags
behind the window manager, is waited on, not taken for "no default button"). Each waits up to
`deadline_s`, then the action fails with the reason, unperformed; a wait only for an answer
(`Unknown`) goes ahead at the deadline, as without accessibility.

After typing: the focused text field's content (AT-SPI Text) must hold the typed text (polled up to
`verify_s`). Where accessibility cannot tell (no bus, a focus that is not a text field: a Calc cell,
a Tk entry, a terminal) and an OCR engine is there, what changed on screen since just before the
typing is read instead: the text's tail found there is `ok`; nothing changed at all within
`verify_s` is a failure (the keys did not arrive); a change that does not read as the text is `ok`
None with what it reads (OCR is not trusted to fail a step). Text with Tab/Return/BackSpace,
password fields and secrets are never read back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageChops

from actions.desktop.base import Desktop, Screenshot, WindowInfo
from actions.models import Action, Box, Click, Key, Type, action_point
from actions.readiness import Check
from agent.perception.atspi_focus import ActiveWindow, Probe
from agent.perception.ocr import OcrEngine

log = logging.getLogger(__name__)

RETURN_KEYS = frozenset({("return",), ("enter",), ("kp_enter",)})
_RADIUS = 24  # half-size of the box compared for stability
COVERED_SHARE = 0.5  # more than this share of the target's pixels changed strongly: covered or gone
_STRONG = 40  # a change of more than this (0-255, luminance of the difference) is not a hover tint
# Roles whose missing "sensitive" state means a click does nothing (labels and panes say little).
CONTROLS = frozenset({"push button", "toggle button", "check box", "radio button", "menu item", "check menu item",
                      "radio menu item", "combo box", "link", "page tab", "spin button", "slider"})


@dataclass(frozen=True)
class Unknown:
    """Why a check cannot tell yet (no answer): polled like a reason, but at the deadline the action
    goes ahead, as it would without accessibility."""

    reason: str


class Actionability:
    def __init__(self, desktop: Desktop, probe: Probe | None = None, deadline_s: float = 2.0,
                 verify_s: float = 1.0, gap_s: float = 0.03, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, ocr: OcrEngine | None = None) -> None:
        self.desktop = desktop
        self.probe = probe  # None: no accessibility, pixels only
        self.ocr = ocr  # None: typed text is read back through accessibility only
        self.deadline_s, self.verify_s, self.gap_s = deadline_s, verify_s, gap_s
        self.clock, self.sleep = clock, sleep
        self._planned: Screenshot | None = None  # the frame the next action was planned on
        self._typing_from: Screenshot | None = None  # the screen just before a Type, for OCR read-back
        self._latest: Screenshot | None = None  # a grab the caller took just before the action

    def expect(self, frame: Screenshot, latest: Screenshot | None = None) -> None:
        self._planned = frame
        self._latest = latest if latest is not frame else None

    # -- before

    def before(self, action: Action) -> str | None:
        if isinstance(action, Click):
            return self._clickable(action)
        if isinstance(action, Key) and tuple(k.lower() for k in action.keys) in RETURN_KEYS:
            return self._default_button_ready()
        if isinstance(action, Type) and self.ocr is not None:
            self._typing_from, self._latest = self._latest or self.desktop.capture(), None
        return None

    def _until(self, why_not: Callable[[], str | Unknown | None]) -> str | None:
        """Poll `why_not` until it is None or the deadline passed; the last reason then (None if
        it was only `Unknown`)."""
        deadline = self.clock() + self.deadline_s
        while (reason := why_not()) is not None:
            if self.clock() >= deadline:
                if isinstance(reason, Unknown):
                    log.info("going ahead unchecked: %s after %gs", reason.reason, self.deadline_s)
                    return None
                return f"{reason} after {self.deadline_s:g}s"
            self.sleep(0.05)
        return None

    def _clickable(self, action: Click) -> str | None:
        point = action_point(action)
        if point is None:
            return None
        if not self.desktop.geometry().contains(point.x, point.y):
            return f"the target ({point.x}, {point.y}) is off screen"
        box = action.target.bbox if action.target is not None else None
        # The frame the action was planned on is the first sample of the target: on the fast path
        # (nothing moved since) one grab checks stability and cover; else two grabs `gap_s` apart.
        earlier, latest, self._latest = self._planned, self._latest, None

        def why_not() -> str | None:
            nonlocal earlier, latest
            now, latest = latest or self.desktop.capture(), None
            if earlier is None:
                self.sleep(self.gap_s)
                earlier, now = now, self.desktop.capture()
            reason = self._unstable(point.x, point.y, earlier, now) or self._covered(box, now) \
                or self._insensitive(point.x, point.y)
            earlier = now
            return reason
        return self._until(why_not)

    @staticmethod
    def _crop(shot: Screenshot, x: int, y: int) -> Image.Image:
        ox, oy = x - shot.left, y - shot.top
        return shot.image.crop((ox - _RADIUS, oy - _RADIUS, ox + _RADIUS, oy + _RADIUS))

    def _unstable(self, x: int, y: int, earlier: Screenshot, now: Screenshot) -> str | None:
        """The pixels around the point differ between two grabs: still moving."""
        a, b = self._crop(earlier, x, y).convert("RGB"), self._crop(now, x, y).convert("RGB")
        same = ImageChops.difference(a, b).getbbox() is None
        return None if same else f"the target at ({x}, {y}) is still moving"

    def _covered(self, box: Box | None, now: Screenshot) -> str | None:
        """Most of the target's box changed strongly since it was planned: covered, or gone."""
        planned = self._planned
        if planned is None or box is None or box.width * box.height > 400 * 200 or box.width * box.height <= 0:
            return None
        changed = _changed_share(planned, now, box)
        if changed is None or changed <= COVERED_SHARE:
            return None
        return f"the target at {box.left},{box.top} {box.width}x{box.height} looks different from when it " \
               f"was planned ({changed:.0%} of its pixels changed): covered or gone"

    def _insensitive(self, x: int, y: int) -> str | None:
        if self.probe is None:
            return None
        node = self.probe.at_point(x, y)
        if node is None or node.role not in CONTROLS or node.sensitive or "showing" not in node.states:
            return None  # unknown, or fine
        return f"the {node.role} {node.name!r} at ({x}, {y}) is not enabled"

    def _default_button_ready(self) -> str | None:
        if self.probe is None:
            return None
        probe = self.probe

        def why_not() -> str | Unknown | None:
            state = probe.read(patient=True)
            if state.timed_out:
                return Unknown(state.error or "accessibility did not answer")
            if lag := _lagging(state, self.desktop.active_window()):
                return lag
            button, focused = state.default_button, state.focused
            if button is None or button.sensitive:
                return None
            if focused is not None and ("multi_line" in focused.states or focused.role in CONTROLS):
                return None  # Return goes to the focused text view or control, not the default button
            return f"the default button {button.name!r} is not enabled (Return would do nothing)"
        return self._until(why_not)

    # -- after

    def after(self, action: Action, secret: bool = False) -> Check:
        self._planned = None  # what comes next was planned on a frame this action may have changed
        before, self._typing_from = self._typing_from, None
        self._latest = None
        if not isinstance(action, Type):
            return Check()
        if any(c in action.text for c in "\t\n\b"):
            return Check(None, "not read back: the text moves the focus or edits")
        check = self._from_accessibility(action.text) if self.probe is not None else \
            Check(None, "not read back: no accessibility")
        if check.ok is not None or self.ocr is None or before is None or secret or check == PASSWORD_FIELD:
            return check
        try:
            return self._from_screen(action.text, before, check.note or "")
        except Exception as e:  # OCR that cannot load: what accessibility said stands
            log.debug("OCR read-back failed: %s", e)
            return check

    def _from_accessibility(self, typed: str) -> Check:
        assert self.probe is not None
        deadline = self.clock() + self.verify_s
        while True:
            check = _compare(typed, self.probe.read())
            if check.ok is not False or self.clock() >= deadline:
                return check
            self.sleep(0.05)

    def _from_screen(self, typed: str, before: Screenshot, why: str) -> Check:
        """OCR of what changed since `before` until the text's tail reads there or `verify_s` passed."""
        from agent.perception.capture import fingerprint
        from agent.perception.regions import changed_regions

        assert self.ocr is not None
        want = _fold(typed[-READ_BACK_TAIL:])
        deadline = self.clock() + self.verify_s
        read: dict[str, list[str]] = {}  # frame fingerprint -> texts read in what changed
        while True:
            shot = self.desktop.capture()
            changed = changed_regions(before.image, shot.image)
            boxes = [b for b in changed if b.width * b.height <= READ_BACK_AREA]
            key = fingerprint(shot.image)
            if boxes and key in read:
                break  # the screen is still since it was read: what it reads is final
            if boxes:
                read[key] = [line.text for b in boxes[:8] for line in self.ocr.read(_padded(shot.image, b))]
                if want and want in _fold("".join(read[key])):
                    return Check(True, "read back by OCR of what changed on screen")
            if self.clock() >= deadline:
                break
            self.sleep(0.05)
        if not [b for b in changed if b.width > 3]:  # a caret's blink is no text
            return Check(False, f"typed {typed!r} but nothing changed on screen within {self.verify_s:g}s: "
                                "the keys did not arrive")
        shown = " ".join(read.get(key, []))
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return Check(None, f"not read back: what changed on screen reads {shown!r} ({why.removeprefix('not read back: ')})")


def _lagging(state: ActiveWindow, active: WindowInfo) -> Unknown | None:
    """Accessibility is behind the window manager: the window X made active is known to it (or
    belongs to an accessible app, so will be) but is not the one it shows active. An app that is not
    accessible at all (xterm) is no lag."""
    if not active.title or state.title == active.title:
        return None
    if active.title in state.windows or (active.app and active.app.lower() in state.apps):
        return Unknown(f"accessibility shows {state.title or 'no window'!r} active, not {active.title!r}")
    return None


PASSWORD_FIELD = Check(None, "not read back: a password field")  # nor read off the screen
READ_BACK_TAIL = 24  # characters: the end of a long text is what stays in view near the caret
READ_BACK_AREA = 640 * 240  # px: a changed box bigger than this is not the typed text alone


def _fold(text: str) -> str:
    """For comparing OCR with typed text: no spaces, case folded, look-alike glyphs made one."""
    return "".join(text.split()).casefold().translate(_LOOKALIKE)


_LOOKALIKE = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "!": "l", "5": "s", "8": "b"})


def _padded(image: Image.Image, box: Box, pad: int = 6) -> Image.Image:
    left, top = max(box.left - pad, 0), max(box.top - pad, 0)
    crop = image.crop((left, top, min(box.right + pad, image.width), min(box.bottom + pad, image.height)))
    crop.info["origin"] = (left, top)
    return crop


def _changed_share(a: Screenshot, b: Screenshot, box: Box) -> float | None:
    """Share of the box's pixels whose colour moved by more than `_STRONG` in some channel."""
    crops = []
    for shot in (a, b):
        left, top = box.left - shot.left, box.top - shot.top
        if left < 0 or top < 0 or left + box.width > shot.size[0] or top + box.height > shot.size[1]:
            return None
        crops.append(shot.image.convert("RGB").crop((left, top, left + box.width, top + box.height)))
    diff = ImageChops.difference(crops[0], crops[1]).convert("L").point(lambda v: 255 if v > _STRONG else 0)
    histogram = diff.histogram()
    return histogram[255] / max(1, box.width * box.height)


def _compare(typed: str, state: ActiveWindow) -> Check:
    if state.error:
        return Check(None, f"not read back: {state.error}")
    node = state.focused
    if node is None:
        return Check(None, "not read back: no focused accessible")
    if node.role == "password text":
        return PASSWORD_FIELD
    if node.text is None or "editable" not in node.states:
        return Check(None, f"not read back: the focus is on a {node.role}, not a text field")
    if typed in node.text:
        return Check(True, f"read back from the focused {node.role}")
    shown = node.text if len(node.text) <= 60 else "..." + node.text[-57:]
    return Check(False, f"typed {typed!r} but the focused {node.role} in {state.title!r} reads {shown!r}")
