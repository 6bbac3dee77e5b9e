"""Desktops that perform nothing: `FakeDesktop` (serves given frames, records every call) for tests,
`DryRunDesktop` (sees through a real one, logs what it would do) for `--dry-run`."""

from __future__ import annotations

import logging
from typing import Any

from PIL import Image

from actions.desktop.base import Button, Desktop, Monitor, ScreenGeometry, Screenshot, WindowInfo
from actions.models import Point

log = logging.getLogger(__name__)



class FakeDesktop:
    """Serves given images and records every input call as a tuple, for tests."""

    def __init__(self, frames: list[Image.Image] | None = None, size: tuple[int, int] = (1280, 800),
                 window: WindowInfo | None = None) -> None:
        self.frames = list(frames) if frames else [Image.new("RGB", size, "white")]
        self.size = self.frames[0].size
        self.window = window or WindowInfo(title="Fake window", app="fake")
        self.calls: list[tuple[Any, ...]] = []
        self._pointer = Point(x=self.size[0] // 2, y=self.size[1] // 2)
        self._frame = 0

    def geometry(self) -> ScreenGeometry:
        w, h = self.size
        return ScreenGeometry(width=w, height=h, monitors=(Monitor(index=1, left=0, top=0, width=w, height=h),))

    def capture(self, monitor: int | None = None) -> Screenshot:
        image = self.frames[min(self._frame, len(self.frames) - 1)]
        self._frame += 1
        return Screenshot(image=image.copy())

    def active_window(self) -> WindowInfo:
        return self.window

    def cursor(self) -> Point:
        return self._pointer

    def move(self, x: int, y: int) -> None:
        self._pointer = Point(x=x, y=y)
        self.calls.append(("move", x, y))

    def click(self, x: int, y: int, button: Button, count: int, modifiers: tuple[str, ...]) -> None:
        self._pointer = Point(x=x, y=y)
        self.calls.append(("click", x, y, button, count, modifiers))

    def drag(self, path: tuple[Point, ...], button: Button, modifiers: tuple[str, ...]) -> None:
        self._pointer = path[-1]
        self.calls.append(("drag", tuple((p.x, p.y) for p in path), button, modifiers))

    def scroll(self, x: int, y: int, dx: int, dy: int, modifiers: tuple[str, ...]) -> None:
        self.calls.append(("scroll", x, y, dx, dy, modifiers))

    def type_text(self, text: str) -> None:
        self.calls.append(("type", text))

    def press(self, keys: tuple[str, ...]) -> None:
        self.calls.append(("press", keys))


# --------------------------------------------------------------------------- dry run


class DryRunDesktop:
    """Sees through the wrapped desktop but performs nothing; logs what it would do."""

    def __init__(self, inner: Desktop) -> None:
        self.inner = inner
        self.would: list[tuple[Any, ...]] = []

    def geometry(self) -> ScreenGeometry:
        return self.inner.geometry()

    def capture(self, monitor: int | None = None) -> Screenshot:
        return self.inner.capture(monitor)

    def active_window(self) -> WindowInfo:
        return self.inner.active_window()

    def cursor(self) -> Point:
        return self.inner.cursor()

    def _note(self, *call: Any) -> None:
        log.info("dry run: would %s", call)
        self.would.append(call)

    def move(self, x: int, y: int) -> None:
        self._note("move", x, y)

    def click(self, x: int, y: int, button: Button, count: int, modifiers: tuple[str, ...]) -> None:
        self._note("click", x, y, button, count, modifiers)

    def drag(self, path: tuple[Point, ...], button: Button, modifiers: tuple[str, ...]) -> None:
        self._note("drag", tuple((p.x, p.y) for p in path), button, modifiers)

    def scroll(self, x: int, y: int, dx: int, dy: int, modifiers: tuple[str, ...]) -> None:
        self._note("scroll", x, y, dx, dy, modifiers)

    def type_text(self, text: str) -> None:
        self._note("type", text)

    def press(self, keys: tuple[str, ...]) -> None:
        self._note("press", keys)
