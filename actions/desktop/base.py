"""The driven machine's boundary: the `Desktop` Protocol and the values that cross it.

Everything here is in screen space (physical pixels of the whole virtual screen). Backends:
`actions.desktop.x11` (the real X11 one) and `actions.desktop.fake` (FakeDesktop, DryRunDesktop).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from PIL import Image
from pydantic import BaseModel, ConfigDict

from actions.errors import DisplayError
from actions.models import Button as Button  # re-exported: the Protocol speaks it
from actions.models import Point


class Monitor(BaseModel):
    model_config = ConfigDict(frozen=True)
    index: int
    left: int
    top: int
    width: int
    height: int
    scale: float = 1.0


class ScreenGeometry(BaseModel):
    """The virtual screen (all monitors) and each monitor, in screen space."""

    model_config = ConfigDict(frozen=True)
    width: int
    height: int
    monitors: tuple[Monitor, ...]

    def contains(self, x: int, y: int) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height

    def monitor(self, index: int | None) -> Monitor:
        """Monitor `index` (1-based as in mss); None or 0 means the whole virtual screen."""
        if not index:
            return Monitor(index=0, left=0, top=0, width=self.width, height=self.height)
        if not 1 <= index <= len(self.monitors):
            raise DisplayError(f"no monitor {index}: this screen has {len(self.monitors)} "
                               f"(use --monitor 1..{len(self.monitors)})")
        return self.monitors[index - 1]


class WindowInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    title: str = ""
    app: str = ""
    window_id: int = 0


@dataclass(frozen=True)
class Screenshot:
    """A captured image and where it sits in screen space (origin of a monitor crop)."""

    image: Image.Image
    left: int = 0
    top: int = 0
    captured_at: float = field(default_factory=time.monotonic)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


@runtime_checkable
class Desktop(Protocol):
    """What the executor, perception and replay need from a machine."""

    def geometry(self) -> ScreenGeometry: ...
    def capture(self, monitor: int | None = None) -> Screenshot: ...
    def active_window(self) -> WindowInfo: ...
    def cursor(self) -> Point: ...
    def move(self, x: int, y: int) -> None: ...
    def click(self, x: int, y: int, button: Button, count: int, modifiers: tuple[str, ...]) -> None: ...
    def drag(self, path: tuple[Point, ...], button: Button, modifiers: tuple[str, ...]) -> None: ...
    def scroll(self, x: int, y: int, dx: int, dy: int, modifiers: tuple[str, ...]) -> None: ...
    def type_text(self, text: str) -> None: ...
    def press(self, keys: tuple[str, ...]) -> None: ...
