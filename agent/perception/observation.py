"""What the agent saw before a step: the input of a planner turn."""

from __future__ import annotations

from dataclasses import dataclass, field

from actions.desktop.base import ScreenGeometry, Screenshot, WindowInfo
from agent.perception.elements import Element


@dataclass(frozen=True)
class Observation:
    """A screenshot in screen space (full resolution) and what perception made of it.

    `screenshot.left/top` place the image in screen space (non-zero for `--monitor N`).
    `notes` carries facts the planner should hear, e.g. "the last click changed nothing".
    """

    screenshot: Screenshot
    screen: ScreenGeometry
    window: WindowInfo = field(default_factory=WindowInfo)
    elements: tuple[Element, ...] = ()
    notes: tuple[str, ...] = ()
    frame_hash: str = ""

    def element(self, mark: int) -> Element | None:
        for e in self.elements:
            if e.id == mark:
                return e
        return None
