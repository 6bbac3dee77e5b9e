"""The real X11 desktop: pyautogui (XTEST) for input, mss for capture, python-xlib (EWMH) for windows.

pyautogui binds to $DISPLAY when first imported, so the backend imports it lazily and rebinds its
X connection to the display it was built for.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image

from actions.desktop.base import Button, Monitor, ScreenGeometry, Screenshot, WindowInfo
from actions.desktop.pacing import InputPacing, Pace
from actions.errors import DisplayError, InputInterrupted, KillSwitchPressed
from actions.models import Point

log = logging.getLogger(__name__)

_ENV_LOCK = threading.RLock()


@contextmanager
def x_display(display: str | None) -> Iterator[None]:
    """$DISPLAY set to `display` while libraries that read it at connect time start up."""
    if not display:
        yield
        return
    with _ENV_LOCK:
        old = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = display
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = old


# Canonical key names (actions.keys) that pyautogui spells differently.
_PYAUTOGUI_KEY = {"super": "win", "menu": "apps", "printscreen": "print"}
_PYAUTOGUI_LOCK = threading.Lock()


def _pyautogui_for(display: str) -> Any:
    """Import pyautogui (once) and point its X connection at `display`."""
    try:
        with x_display(display):
            import pyautogui
            from pyautogui import _pyautogui_x11 as x11
            from Xlib.display import Display
    except KeyError as e:  # pyautogui reads os.environ['DISPLAY'] at import
        raise DisplayError("DISPLAY is not set: run inside an X session or use --virtual") from e
    except Exception as e:  # Xlib connection errors, missing tkinter, ...
        raise DisplayError(f"cannot use display {display}: {e}".splitlines()[0]) from e
    # Always reconnect: a display number is reused once its Xvfb is gone, so an equal name does
    # not mean a live connection (the old one fails with "Broken pipe").
    stale, x11._display = x11._display, Display(display)
    try:
        stale.close()
    except Exception:  # already dead
        pass
    pyautogui.PAUSE = 0.0
    pyautogui.MINIMUM_DURATION = 0.0
    pyautogui.FAILSAFE = True
    return pyautogui


class PyAutoGUIDesktop:
    """The real X11 desktop: pyautogui (XTEST) for input, mss for capture, Xlib for windows.

    pyautogui's X connection is process-global: one PyAutoGUIDesktop at a time per process
    drives input (each one rebinds it to its own display when built).
    """

    def __init__(self, display: str | None = None, failsafe: bool = True,
                 pacing: InputPacing | None = None) -> None:
        self.pacing = pacing or InputPacing()
        self.display = display or os.environ.get("DISPLAY") or ""
        if not self.display:
            raise DisplayError("DISPLAY is not set: run inside an X session or use --virtual")
        try:
            from Xlib.display import Display
            self._x = Display(self.display)
        except Exception as e:
            raise DisplayError(f"cannot open display {self.display!r}: {e} "
                               "(is the X server running? try --virtual)".replace("\n", " ")) from e
        with _PYAUTOGUI_LOCK:
            self._gui = _pyautogui_for(self.display)
        self._gui.FAILSAFE = failsafe
        self._mss: Any = None
        self._mss_thread: int | None = None

    # -- seeing

    def _grabber(self) -> Any:
        # mss handles are per thread on X11.
        if self._mss is None or self._mss_thread != threading.get_ident():
            import mss
            self._mss = mss.MSS(display=self.display)
            self._mss_thread = threading.get_ident()
        return self._mss

    def geometry(self) -> ScreenGeometry:
        mons = self._grabber().monitors
        whole = mons[0]
        scale = _xft_scale(self._x)
        monitors = tuple(Monitor(index=i, left=m["left"], top=m["top"], width=m["width"],
                                 height=m["height"], scale=scale) for i, m in enumerate(mons[1:], 1))
        return ScreenGeometry(width=whole["width"], height=whole["height"], monitors=monitors)

    def capture(self, monitor: int | None = None) -> Screenshot:
        grabber = self._grabber()
        mons = grabber.monitors
        if monitor is not None and not 0 <= monitor < len(mons):
            raise DisplayError(f"no monitor {monitor}: this screen has {len(mons) - 1}")
        region = mons[monitor or 0]
        shot = grabber.grab(region)
        image = Image.frombuffer("RGB", shot.size, shot.bgra, "raw", "BGRX", 0, 1)
        return Screenshot(image=image, left=region["left"], top=region["top"])

    def active_window(self) -> WindowInfo:
        return active_window(self._x)

    def cursor(self) -> Point:
        data = self._x.screen().root.query_pointer()
        return Point(x=data.root_x, y=data.root_y)

    # -- acting

    def _checked(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except self._gui.FailSafeException as e:
            raise KillSwitchPressed("stopped by the fail-safe: the pointer was moved into a screen "
                                    "corner") from e

    def _with_modifiers(self, modifiers: tuple[str, ...], fn: Any, *args: Any, **kwargs: Any) -> None:
        keys = [_PYAUTOGUI_KEY.get(k, k) for k in modifiers]
        for k in keys:
            self._checked(self._gui.keyDown, k)
        try:
            self._checked(fn, *args, **kwargs)
        finally:
            for k in reversed(keys):
                self._gui.keyUp(k)

    def move(self, x: int, y: int) -> None:
        self._checked(self._gui.moveTo, x, y)

    def click(self, x: int, y: int, button: Button, count: int, modifiers: tuple[str, ...]) -> None:
        # pyautogui sleeps `interval` after every click, the last one too: only pause between clicks.
        self._with_modifiers(modifiers, self._gui.click, x, y, clicks=count, interval=0.02 if count > 1 else 0.0,
                             button=button)

    def drag(self, path: tuple[Point, ...], button: Button, modifiers: tuple[str, ...]) -> None:
        def run() -> None:
            gui = self._gui
            gui.moveTo(path[0].x, path[0].y)
            gui.mouseDown(button=button)
            try:
                for p in path[1:]:
                    gui.moveTo(p.x, p.y, duration=0.05)
            finally:
                gui.mouseUp(button=button)
        self._with_modifiers(modifiers, run)

    def scroll(self, x: int, y: int, dx: int, dy: int, modifiers: tuple[str, ...]) -> None:
        def run() -> None:
            self._gui.moveTo(x, y)
            if dy:
                self._gui.scroll(-dy)  # pyautogui: positive scrolls up
            if dx:
                self._gui.hscroll(dx)
        self._with_modifiers(modifiers, run)

    def pace(self) -> Pace:
        """The pace for the focused window's class (see actions.desktop.pacing)."""
        return self.pacing.for_window(self.active_window().app)

    def _sync(self) -> None:
        """One X round trip on the input connection: the server has handled every event sent."""
        from pyautogui import _pyautogui_x11 as x11
        x11._display.sync()

    def type_text(self, text: str) -> None:
        """One character at a time, each only while the window typing began in still has the focus:
        the rest of a text is never sent into a window that took the focus meanwhile."""
        window = self.active_window()
        delay = self.pacing.for_window(window.app).key_delay_s
        focus = self._focus_id()
        for i, ch in enumerate(text):
            if i and (now := self._focus_id()) != focus:
                if (why := self._focus_left(window)) is not None:
                    raise InputInterrupted(f"{window.title or 'the window'!r} lost the focus while typing{why}: "
                                           f"{i} of {len(text)} characters were sent, the rest was not")
                focus = now  # the focus moved inside the same window
            self._checked(self._gui.write, ch, interval=0.0)
            self._sync()
            if delay:
                time.sleep(delay)

    def _focus_id(self) -> int:
        """The X input focus window's id; one round trip."""
        focus = self._x.get_input_focus().focus
        return focus if isinstance(focus, int) else int(focus.id)

    def _focus_left(self, window: WindowInfo) -> str | None:
        """None while `window` (the active one when typing began) still exists, is mapped and is the
        window manager's active window; else why not (' (it closed)' or ''). Without a window
        manager nothing says which window is active: None."""
        if not window.window_id:
            return None
        from Xlib import X

        try:
            mapped = self._x.create_resource_object("window", window.window_id).get_attributes().map_state
        except Exception:  # BadWindow: it was destroyed
            return " (it closed)"
        if mapped != X.IsViewable:
            return " (it closed)"
        prop = self._x.screen().root.get_full_property(self._x.intern_atom("_NET_ACTIVE_WINDOW"), 0)
        if prop is None or not len(prop.value) or int(prop.value[0]) == window.window_id:
            return None
        return ""

    def press(self, keys: tuple[str, ...]) -> None:
        delay = self.pace().chord_delay_s
        self._checked(self._gui.hotkey, *[_PYAUTOGUI_KEY.get(k, k) for k in keys], interval=0.0)
        self._sync()
        if delay:
            time.sleep(delay)

    def close(self) -> None:
        if self._mss is not None:
            self._mss.close()
        self._x.close()


def _xft_scale(x: Any) -> float:
    """HiDPI scale from the Xft.dpi resource (96 dpi = 1.0); 1.0 when unset."""
    try:
        db = x.screen().root.get_full_property(x.intern_atom("RESOURCE_MANAGER"), 0)
        text = db.value.decode() if db else ""
    except Exception:
        return 1.0
    for line in text.splitlines():
        if line.startswith("Xft.dpi:"):
            try:
                return round(float(line.split(":", 1)[1]) / 96.0, 2)
            except ValueError:
                return 1.0
    return 1.0


def active_window(x: Any) -> WindowInfo:
    """The focused top-level window's title and application (EWMH, else the input focus)."""
    root = x.screen().root
    try:
        prop = root.get_full_property(x.intern_atom("_NET_ACTIVE_WINDOW"), 0)
        wid = int(prop.value[0]) if prop and len(prop.value) else 0
        win = x.create_resource_object("window", wid) if wid else x.get_input_focus().focus
        if isinstance(win, int) or win is None or win == root:
            return WindowInfo()
        return _describe_window(x, win)
    except Exception as e:  # a window that vanished between the two calls
        log.debug("active window unknown: %s", e)
        return WindowInfo()


def _describe_window(x: Any, win: Any) -> WindowInfo:
    # Walk up to the window that carries WM_CLASS (focus may be on a child).
    for _ in range(8):
        cls = win.get_wm_class()
        if cls:
            break
        tree = win.query_tree()
        if not tree.parent or tree.parent == x.screen().root:
            break
        win = tree.parent
    name_prop = win.get_full_property(x.intern_atom("_NET_WM_NAME"), x.intern_atom("UTF8_STRING"))
    title = name_prop.value.decode("utf-8", "replace") if name_prop else (win.get_wm_name() or "")
    cls = win.get_wm_class() or ("", "")
    return WindowInfo(title=str(title), app=str(cls[1] or cls[0]), window_id=int(win.id))
