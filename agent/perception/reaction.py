"""What an action should make the application do, and how long to wait for it.

    reactions = Reactions(settings.reaction, X11Windows(display))
    expect = reactions.expect(action, desktop, before, app="XCalc")   # just before acting
    executor.execute(action)
    settled = settle(desktop, expect.before, expect=expect, windows=reactions.windows)
    settled.reaction.signal   # "screen", "window", "focus", "title", "widget", "none", "stopped" or ""

A click on a button, Return, a shortcut or typed text should change the screen; the app may take a
while (a form that submits 700 ms later). `settle` then waits up to the action's deadline for a
*reaction*: pixels that changed outside the acted-on widget's own press/hover highlight (`own`:
the changed blobs around the click point, its target box and where the pointer was before, up to
widget size), a window that opened or closed (EWMH `_NET_CLIENT_LIST`), another active window, or
a new title. Then it waits for the screen to be still. Waits, moves and scrolls expect no reaction.
Deadlines: `[tool.uiagent.reaction]` (`ReactionSettings`), per action kind and per window class.
The X busy cursor is not watched: python-xlib has no XFixes cursor names, and Tk/Xaw never set it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from actions.models import Action, Box, Drag, Key, Target, action_point

if TYPE_CHECKING:  # PIL stays out of `import agent.settings`
    from actions.desktop.base import Desktop, Screenshot

log = logging.getLogger(__name__)

Signal = Literal["screen", "window", "focus", "title", "widget", "none", "stopped", ""]
ReactingKind = Literal["click", "key", "type", "drag"]
STALE_S = 0.05    # a frame older than this is taken again just before the action
MODIFIERS = frozenset({"shift", "ctrl", "alt", "super", "meta"})
LIVE_MAX = (160, 48)  # px: the largest change taken for one that happens by itself (a clock, a spinner)


class Deadlines(BaseModel):
    """Seconds an action may take to make the app react; None: the general `deadline_s`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    deadline_s: float | None = Field(default=None, ge=0, le=60)
    click_s: float | None = Field(default=None, ge=0, le=60)
    key_s: float | None = Field(default=None, ge=0, le=60)
    type_s: float | None = Field(default=None, ge=0, le=60)
    drag_s: float | None = Field(default=None, ge=0, le=60)

    def for_kind(self, kind: ReactingKind) -> float | None:
        value: float | None = getattr(self, f"{kind}_s")
        return value if value is not None else self.deadline_s


class ReactionSettings(Deadlines):
    """`[tool.uiagent.reaction]`: deadlines per action kind, and per app (window class, any case):

        deadline_s = 1.0                  # clicks, keys, typing and drags
        key_s = 1.5
        [tool.uiagent.reaction.apps]
        soffice = 3.0                     # every kind
        Mousepad = { type_s = 0.5 }
    """

    deadline_s: float | None = Field(default=1.0, ge=0, le=60)
    apps: dict[str, Deadlines | float] = Field(default_factory=dict)

    def deadline(self, kind: ReactingKind, app: str = "") -> float:
        for name, value in self.apps.items():
            if name.lower() == app.lower() and app:
                found = value if isinstance(value, float | int) else value.for_kind(kind)
                if found is not None:
                    return float(found)
        return self.for_kind(kind) or 0.0


class Reaction(BaseModel):
    """Recorded per settled action: what the loop waited for after it, and what came."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    deadline_s: float = Field(default=0.0, description="How long the app had to react; 0: none expected")
    waited_for: tuple[str, ...] = Field(default=(), description="Signals watched: pixels, windows, focus, title")
    signal: Signal = Field(default="", description="What came first; widget: only the acted-on widget (or "
                           "something that changes by itself) changed; none: nothing changed")
    reacted_s: float | None = Field(default=None, description="Seconds after the action the reaction was seen")
    settled_s: float = Field(default=0.0, description="Seconds until the screen was still")

    @property
    def missing(self) -> bool:
        """A reaction was expected and nothing at all changed within the deadline."""
        return self.deadline_s > 0 and self.signal == "none"


@dataclass(frozen=True)
class WindowState:
    clients: frozenset[int] = frozenset()
    active: int = 0
    title: str = ""


class WindowWatcher(Protocol):
    def state(self) -> WindowState: ...

    def content(self, window: int) -> Box | None:
        """The window's own area on screen (inside the window manager's frame), None if unknown."""
        ...


class X11Windows:
    """EWMH window list, active window and its title, on its own X connection (~3 round trips)."""

    def __init__(self, display: str) -> None:
        from Xlib.display import Display

        self._x: Any = Display(display)
        self._atoms = {name: self._x.intern_atom(name) for name in
                       ("_NET_CLIENT_LIST", "_NET_ACTIVE_WINDOW", "_NET_WM_NAME", "UTF8_STRING")}

    def state(self) -> WindowState:
        root = self._x.screen().root
        try:
            clients = root.get_full_property(self._atoms["_NET_CLIENT_LIST"], 0)
            active = root.get_full_property(self._atoms["_NET_ACTIVE_WINDOW"], 0)
            wid = int(active.value[0]) if active and len(active.value) else 0
            title = ""
            if wid:
                win = self._x.create_resource_object("window", wid)
                name = win.get_full_property(self._atoms["_NET_WM_NAME"], self._atoms["UTF8_STRING"])
                title = name.value.decode("utf-8", "replace") if name else str(win.get_wm_name() or "")
            return WindowState(frozenset(int(w) for w in clients.value) if clients else frozenset(), wid, title)
        except Exception as e:  # a window that vanished while we looked
            log.debug("window state unknown: %s", e)
            return WindowState()

    def content(self, window: int) -> Box | None:
        try:
            win = self._x.create_resource_object("window", window)
            geometry = win.get_geometry()
            origin = self._x.screen().root.translate_coords(win, 0, 0)
            return Box(left=origin.x, top=origin.y, right=origin.x + geometry.width,
                       bottom=origin.y + geometry.height)
        except Exception as e:  # a window that vanished while we looked
            log.debug("window %s geometry unknown: %s", window, e)
            return None

    def close(self) -> None:
        self._x.close()


class FakeWindows:
    """A WindowWatcher for tests: serves `states` in turn (the last one repeats); every window's
    content is `content`."""

    def __init__(self, *states: WindowState, content: Box | None = None) -> None:
        self.states = list(states) or [WindowState()]
        self.calls = 0
        self._content = content

    def state(self) -> WindowState:
        self.calls += 1
        return self.states[min(self.calls, len(self.states)) - 1]

    def content(self, window: int) -> Box | None:
        return self._content


def window_signal(before: WindowState | None, now: WindowState) -> Signal:
    if before is None:
        return ""
    if now.clients != before.clients:
        return "window"
    if now.active != before.active:
        return "focus"
    if now.title != before.title:
        return "title"
    return ""


@dataclass(frozen=True)
class Expectation:
    """What to wait for after one action. `own`: boxes (screen space) where a change is the widget's
    own highlight, not a reaction by itself; `live`: boxes that changed by themselves before the
    action (a blinking caret, a clock); `interrupt`: polled while waiting, True stops the wait (it
    may raise, e.g. the kill switch)."""

    before: Screenshot
    deadline_s: float = 0.0
    own: tuple[Box, ...] = ()
    live: tuple[Box, ...] = ()
    windows: WindowState | None = None
    interrupt: Callable[[], bool] | None = field(default=None, compare=False)


def reacting_kind(action: Action) -> ReactingKind | None:
    """The kinds that should change the screen; a modifier alone (shift) changes nothing."""
    if isinstance(action, Key):
        return None if set(action.keys) <= MODIFIERS else "key"
    return action.kind if action.kind in ("click", "type", "drag") else None


def point_box(x: int, y: int, radius: int = 24) -> Box:
    return Box(left=x - radius, top=y - radius, right=x + radius, bottom=y + radius)


class Reactions:
    """Builds each action's `Expectation` from the settings and a look at the desktop before acting."""

    def __init__(self, settings: ReactionSettings | None = None, windows: WindowWatcher | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or ReactionSettings()
        self.windows = windows
        self.clock = clock

    def expect(self, action: Action, desktop: Desktop, before: Screenshot, *, app: str = "",
               boxes_under: Callable[[int, int], Box | None] = lambda x, y: None, monitor: int | None = None,
               interrupt: Callable[[], bool] | None = None) -> Expectation:
        """Call just before performing `action`; `before` is the last frame seen (taken again if stale)."""
        kind = reacting_kind(action)
        deadline = self.settings.deadline(kind, app) if kind else 0.0
        if deadline <= 0:
            return Expectation(before=before)
        live: tuple[Box, ...] = ()
        if self.clock() - before.captured_at > STALE_S:
            fresh = desktop.capture(monitor)
            live = _changed_by_itself(before, fresh)
            before = fresh
        own = self._own(action, desktop, boxes_under) if kind in ("click", "drag") else ()
        windows = self.windows.state() if self.windows is not None else None
        return Expectation(before=before, deadline_s=deadline, own=own, live=live, windows=windows,
                           interrupt=interrupt)

    def _own(self, action: Action, desktop: Desktop, boxes_under: Callable[[int, int], Box | None]) -> tuple[Box, ...]:
        points = [p for p in (action.path[0], action.path[-1])] if isinstance(action, Drag) else []
        if (p := action_point(action)) is not None and not points:
            points = [p]
        pointer = desktop.cursor()
        points.append(pointer)  # the widget under the pointer loses its hover highlight
        boxes = [point_box(p.x, p.y) for p in points]
        boxes += [b for p in points if (b := boxes_under(p.x, p.y)) is not None]
        target: Target | None = getattr(action, "target", None)
        if target is not None and target.bbox is not None:
            boxes.append(target.bbox)
        return tuple(boxes)


def _changed_by_itself(old: Screenshot, new: Screenshot) -> tuple[Box, ...]:
    """The small boxes that changed between two frames with no action between them: a caret, a clock,
    a spinner. A bigger change is an app still drawing (a dialog whose content is painted after its
    frame), not something that changes by itself: it stays watched, or what the action makes the app
    draw inside it would go unseen."""
    from agent.perception.capture import fingerprint
    from agent.perception.regions import changed_regions

    if old.size != new.size or fingerprint(old.image) == fingerprint(new.image):
        return ()
    return tuple(Box(left=b.left + new.left, top=b.top + new.top, right=b.right + new.left,
                     bottom=b.bottom + new.top) for b in changed_regions(old.image, new.image)
                 if b.width <= LIVE_MAX[0] and b.height <= LIVE_MAX[1])


def boxes_from(elements: Sequence[Any]) -> Callable[[int, int], Box | None]:
    """The smallest element box under a point, from an observation's elements."""
    def under(x: int, y: int) -> Box | None:
        hits = [e.box for e in elements if e.box.contains(x, y)]
        return min(hits, key=lambda b: b.width * b.height) if hits else None
    return under
