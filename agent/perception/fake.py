"""A Perceiver and a settle for tests: frames straight from a (fake) Desktop, no OCR.

    perceiver = FakePerceiver(FakeDesktop(frames))
    ctx = LoopContext(..., perceiver=perceiver, settle=perceiver.settle, ...)
"""

from __future__ import annotations

import hashlib

from actions.desktop.base import Desktop, Screenshot
from actions.models import Box
from agent.perception.elements import Element
from agent.perception.observation import Observation
from agent.perception.reaction import Expectation, Reaction
from agent.perception.settle import SettleResult


class FakePerceiver:
    """Observes the desktop's next frame with its geometry and active window, and no elements unless
    given (`elements` are served as they are, whatever the frame); `settle` reports a change when
    the next frame's pixels differ from `before`'s."""

    def __init__(self, desktop: Desktop, elements: tuple[Element, ...] = ()) -> None:
        self.desktop = desktop
        self.elements = elements

    def observe(self, screenshot: Screenshot | None = None, elements: bool = True) -> Observation:
        shot = screenshot or self.desktop.capture()
        return Observation(screenshot=shot, screen=self.desktop.geometry(), window=self.desktop.active_window(),
                           elements=self.elements if elements else ())

    def settle(self, before: Screenshot, expect: Expectation | None = None) -> SettleResult:
        """With `expect`, a changed frame is a reaction on the screen, an equal one none."""
        shot = self.desktop.capture()
        same = shot.image.tobytes() == before.image.tobytes()
        changed = None if same else Box(left=0, top=0, right=1, bottom=1)
        reaction = None
        if expect is not None and expect.deadline_s > 0:
            reaction = Reaction(deadline_s=expect.deadline_s, waited_for=("pixels",),
                                signal="none" if same else "screen", reacted_s=None if same else 0.0)
        return SettleResult(screenshot=shot, waited_s=0.0, grabs=1, timed_out=False, changed=changed,
                            fingerprint=hashlib.sha1(shot.image.tobytes()).hexdigest(), reaction=reaction)
