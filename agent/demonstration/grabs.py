"""Screen grabs while a human demonstrates: the raw frame and the boxes of sensitive windows, one
grabber per thread (an mss handle and an X connection are not shared between threads)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from actions.desktop.base import Monitor, ScreenGeometry
from agent.demonstration.listener import Grab, close_quietly, sensitive_boxes

log = logging.getLogger(__name__)


def screen_geometry(display: str) -> ScreenGeometry:
    import mss

    with mss.MSS(display=display) as sct:
        mons = sct.monitors
    monitors = tuple(Monitor(index=i, left=m["left"], top=m["top"], width=m["width"], height=m["height"])
                     for i, m in enumerate(mons[1:], 1))
    return ScreenGeometry(width=mons[0]["width"], height=mons[0]["height"], monitors=monitors)


class Grabber:
    """Raw grabs for one thread (an mss handle and an X connection are not shared between threads)."""

    def __init__(self, display: str, sensitive_windows: Sequence[str]) -> None:
        self.display, self.sensitive_windows = display, tuple(sensitive_windows)
        self._mss: Any = None
        self._x: Any = None

    def grab(self) -> Grab:
        import mss

        if self._mss is None:
            self._mss = mss.MSS(display=self.display)
        t = time.monotonic()
        shot = self._mss.grab(self._mss.monitors[0])
        grab = Grab(raw=shot.bgra, size=shot.size, received=t, grabbed=time.monotonic())
        try:
            if self._x is None:
                from Xlib.display import Display
                self._x = Display(self.display)
            grab.hidden = sensitive_boxes(self._x, self.sensitive_windows)
        except Exception as e:  # the window list is best effort; the X server may be going away
            log.debug("window list unavailable: %s", e)
        return grab

    def close(self) -> None:
        close_quietly(self._mss, self._x)
        self._mss = self._x = None
