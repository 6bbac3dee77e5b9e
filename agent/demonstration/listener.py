"""Listening to a human on X11: keyboard and pointer through one pynput RECORD context, in server order.

pynput's stock listeners split keyboard and mouse into two threads (two RECORD contexts), which
loses the order between a key and a click and hides the keycode and the server time. `_XListener`
subclasses pynput's X keyboard listener to ask RECORD for every device event from KeyPress to
MotionNotify and overrides `_handle_message` (pynput 1.7-1.8 internals; `check_pynput` guards them).

On each press that may start an action (`Merger.needs_frame`) the screen is grabbed at once, on the
listener thread, before the app has had time to react: a raw mss grab (~1 ms), converted to an
image later off this thread. The window under focus is read on every key press: typing into a
window whose title or class matches a sensitive pattern is flagged, and such windows are listed
with their boxes so frames can black them out.

pynput reads $DISPLAY when its listener starts: `InputSource` sets it for the start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from actions.desktop.base import WindowInfo
from actions.desktop.x11 import active_window, x_display
from actions.errors import DisplayError, UsageError
from actions.keys import canonical_key
from actions.models import Box
from agent.demonstration.events import ButtonEvent, KeyEvent, MotionEvent, RawEvent
from agent.demonstration.merge import Demonstrated, Merger

log = logging.getLogger(__name__)


@dataclass
class Grab:
    """A raw screen grab and what was known about the windows when it was taken."""

    raw: bytes
    size: tuple[int, int]
    received: float             # monotonic: the event reached us
    grabbed: float              # monotonic: the pixels are in memory
    window: WindowInfo = field(default_factory=WindowInfo)
    hidden: tuple[Box, ...] = ()  # sensitive windows on screen, to black out
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def latency_ms(self) -> float:
        return (self.grabbed - self.received) * 1000


def sensitive(window: WindowInfo, patterns: Sequence[str]) -> bool:
    """Whether a window's title or class matches one of the sensitive-window patterns."""
    haystack = f"{window.title} {window.app}".lower()
    return any(p.lower() in haystack for p in patterns if p)


def check_record_extension(display: str) -> None:
    """DisplayError unless `display` can be opened and has the RECORD extension."""
    if not display:
        raise DisplayError("DISPLAY is not set: run `uiagent record` inside the X session to record")
    try:
        from Xlib.display import Display
        x = Display(display)
    except Exception as e:
        raise DisplayError(f"cannot open display {display!r}: {e}".replace("\n", " ")) from e
    try:
        if not x.has_extension("RECORD"):
            raise DisplayError(f"the X server on {display} has no RECORD extension, which recording needs "
                               "(start Xvfb with `+extension RECORD`, or enable it in xorg.conf)")
    finally:
        x.close()


def check_pynput() -> type:
    """pynput's X keyboard listener, checked for the internals `_XListener` relies on."""
    try:
        from pynput.keyboard._xorg import Listener
    except Exception as e:  # ImportError, or pynput picked a non-X backend
        raise DisplayError(f"pynput's X11 backend is unavailable: {e}".splitlines()[0]) from e
    for attr in ("_EVENTS", "_handle_message", "_event_to_key", "_run"):
        if not hasattr(Listener, attr):
            raise UsageError(f"this pynput version lacks Listener.{attr}: install pynput>=1.7,<1.9")
    return Listener  # type: ignore[no-any-return]


class InputSource:
    """Feeds every device event of `display` to a `Merger` and hands finished actions to `emit`.

    `emit` and `on_stop` run on the listener or the ticker thread, with the merger's lock held:
    keep them quick (queue the work). `on_stop("hotkey")` fires once when the stop hotkey is seen.
    """

    def __init__(self, display: str, merger: Merger, emit: Callable[[Demonstrated], None],
                 on_stop: Callable[[str], None], sensitive_windows: Sequence[str] = (),
                 on_grab: Callable[[Grab, RawEvent], None] | None = None, tick_grace_s: float = 0.5,
                 on_release: Callable[[], None] | None = None) -> None:
        self.display = display
        self.tick_grace_s = tick_grace_s
        self.merger = merger
        self.emit = emit
        self.on_stop = on_stop
        self.sensitive_windows = tuple(sensitive_windows)
        self.on_grab = on_grab
        self.on_release = on_release
        self.failure: BaseException | None = None
        self.last_press = 0.0                # monotonic time of the latest press we received
        self.latencies_ms: list[float] = []
        self._lock = threading.Condition()
        self._offset: float | None = None   # monotonic - server seconds (minimum seen)
        self._listener: Any = None
        self._ticker: threading.Thread | None = None
        self._closing = False
        self._x: Any = None
        self._mss: Any = None
        self._last_window = WindowInfo()

    # -- lifecycle

    def start(self) -> None:
        check_record_extension(self.display)
        try:
            with x_display(self.display):  # pynput binds its backend and connections to it
                base = check_pynput()
                self._listener = _listener_class(base)(self)
                self._listener.start()
                self._listener.wait()
        except UsageError:
            raise
        except Exception as e:
            raise DisplayError(f"cannot listen to {self.display}: {e}".splitlines()[0]) from e
        if self.failure is not None:
            raise DisplayError(f"cannot listen to {self.display}: {self.failure}".splitlines()[0])
        self._ticker = threading.Thread(target=self._tick_loop, name="record-ticker", daemon=True)
        self._ticker.start()

    @property
    def alive(self) -> bool:
        return self._listener is not None and self._listener.is_alive() and self.failure is None

    def stop(self) -> None:
        """Stop listening and hand out everything still pending. Safe to call twice."""
        if self._listener is not None:
            try:
                self._listener.stop()
            except Exception as e:  # the X server is gone: there is nothing left to stop
                log.debug("stopping the listener: %s", e)
            self._listener.join(timeout=5)
            self._listener = None
        with self._lock:
            self._closing = True
            for done in self.merger.finish():
                self.emit(done)
            self._lock.notify_all()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None

    # -- the ticker: finishes clicks waiting for a double click, bursts, idle text

    def _tick_loop(self) -> None:
        """Ticks on the event clock minus a grace: the listener thread may be a little behind the
        server (GIL, a busy core), and a click must not be closed before its second press is read."""
        with self._lock:
            while not self._closing:
                deadline = self.merger.deadline
                due = None if deadline is None else deadline + self.tick_grace_s
                timeout = None if due is None else max(due - time.monotonic(), 0.0) + 0.005
                self._lock.wait(timeout)
                if self._closing:
                    return
                for done in self.merger.tick(time.monotonic() - self.tick_grace_s):
                    self.emit(done)

    # -- events (listener thread)

    def handle(self, display: Any, event: Any) -> None:
        try:
            raw = self._convert(display, event)
            if raw is None:
                return
            if isinstance(raw, (KeyEvent, ButtonEvent)):
                if raw.pressed:
                    self.last_press = time.monotonic()
                elif self.on_release is not None:
                    self.on_release()
            if self.merger.needs_frame(raw):
                grab = self._grab()
                if self.on_grab is not None:
                    self.on_grab(grab, raw)
                raw = _with_context(raw, grab)
            self._feed(raw)
        except Exception as e:  # never let one odd event kill the listener
            log.exception("recording: event dropped: %s", e)

    def _feed(self, raw: RawEvent) -> None:
        with self._lock:
            if self.merger.stopped:
                return
            deadline = self.merger.deadline
            if deadline is not None and raw.t >= deadline:
                for done in self.merger.tick(raw.t):
                    self.emit(done)
            for done in self.merger.feed(raw):
                self.emit(done)
            self._lock.notify_all()
            if self.merger.stopped:
                self.on_stop("hotkey")

    def _time(self, server_ms: int) -> float:
        """Server time -> monotonic seconds: the smallest offset seen is the least delayed event."""
        now, server = time.monotonic(), server_ms / 1000.0
        if self._offset is None or now - server < self._offset:
            self._offset = now - server
        return server + self._offset

    def _convert(self, display: Any, event: Any) -> RawEvent | None:
        from Xlib import X

        t = self._time(event.time)
        kind = event.type
        if kind in (X.KeyPress, X.KeyRelease):
            pressed = kind == X.KeyPress
            name, char = self._key_names(display, event)
            flag = False
            if pressed:
                self._last_window = self.window()
                flag = sensitive(self._last_window, self.sensitive_windows)
            return KeyEvent(t, pressed, int(event.detail), name, char, flag)
        if kind in (X.ButtonPress, X.ButtonRelease):
            return ButtonEvent(t, kind == X.ButtonPress, int(event.detail), int(event.root_x), int(event.root_y))
        if kind == X.MotionNotify:
            return MotionEvent(t, int(event.root_x), int(event.root_y))
        return None

    def _key_names(self, display: Any, event: Any) -> tuple[str, str | None]:
        keysym = display.keycode_to_keysym(event.detail, 0)
        name = key_name(keysym)
        char = None
        try:
            key = self._listener._event_to_key(display, event)
            c = getattr(key, "char", None)
            if isinstance(c, str) and len(c) == 1 and c.isprintable():
                char = c
        except Exception:  # a keycode outside the mapping
            pass
        if name == "space":
            char = " "
        return name, char

    # -- the screen and the windows

    def _xconn(self) -> Any:
        if self._x is None:
            from Xlib.display import Display
            self._x = Display(self.display)
        return self._x

    def window(self) -> WindowInfo:
        return active_window(self._xconn())

    def warm_up(self) -> None:
        """Open the grabber and the window connection on the listener thread, before events come."""
        try:
            self._grab()
            self.latencies_ms.clear()
        except Exception as e:  # reported by the first real grab instead
            log.debug("warm-up grab failed: %s", e)

    def _grab(self) -> Grab:
        received = time.monotonic()
        if self._mss is None:
            import mss
            self._mss = mss.MSS(display=self.display)
        shot = self._mss.grab(self._mss.monitors[0])
        grab = Grab(raw=shot.bgra, size=shot.size, received=received, grabbed=time.monotonic())
        self.latencies_ms.append(grab.latency_ms)
        grab.window = self.window()
        grab.hidden = sensitive_boxes(self._xconn(), self.sensitive_windows)
        return grab

    def close(self) -> None:
        close_quietly(self._mss, self._x)
        self._mss = self._x = None


def close_quietly(*handles: Any) -> None:
    """Close X and mss handles whose server may already be gone."""
    for handle in handles:
        try:
            if handle is not None:
                handle.close()
        except Exception:  # the server may be gone already
            pass


_KEYSYM_NAMES: dict[int, str] = {}


def key_name(keysym: int) -> str:
    """An X keysym -> canonical key name (`Return` -> enter, `Control_L` -> ctrl), "" if unknown."""
    if not _KEYSYM_NAMES:
        from Xlib import XK

        XK.load_keysym_group("xkb")  # ISO_Left_Tab (shift+tab) and friends
        for attr in dir(XK):
            if attr.startswith("XK_"):
                _KEYSYM_NAMES.setdefault(getattr(XK, attr), attr[3:])
    text = _KEYSYM_NAMES.get(keysym)
    try:
        return canonical_key(text) if text else ""
    except UsageError:
        return ""


def _with_context(raw: RawEvent, grab: Grab) -> RawEvent:
    if isinstance(raw, KeyEvent):
        return KeyEvent(raw.t, raw.pressed, raw.keycode, raw.name, raw.char, raw.sensitive, grab)
    if isinstance(raw, ButtonEvent):
        return ButtonEvent(raw.t, raw.pressed, raw.button, raw.x, raw.y, grab)
    return raw


def sensitive_boxes(x: Any, patterns: Sequence[str]) -> tuple[Box, ...]:
    """Screen boxes of the mapped top-level windows whose title or class is sensitive."""
    if not patterns:
        return ()
    from Xlib import X

    root = x.screen().root
    boxes = []
    prop = root.get_full_property(x.intern_atom("_NET_CLIENT_LIST"), 0)
    windows = [x.create_resource_object("window", int(w)) for w in prop.value] if prop else \
        list(root.query_tree().children)
    for win in windows:
        try:
            if win.get_attributes().map_state != X.IsViewable:
                continue
            cls = win.get_wm_class() or ("", "")
            name = win.get_full_property(x.intern_atom("_NET_WM_NAME"), x.intern_atom("UTF8_STRING"))
            title = name.value.decode("utf-8", "replace") if name else str(win.get_wm_name() or "")
            if not sensitive(WindowInfo(title=title, app=f"{cls[0]} {cls[1]}"), patterns):
                continue
            geom = win.get_geometry()
            pos = root.translate_coords(win, 0, 0)
            boxes.append(Box(left=pos.x, top=pos.y, right=pos.x + geom.width, bottom=pos.y + geom.height))
        except Exception:  # the window went away while we looked
            continue
    return tuple(boxes)


def _listener_class(base: type) -> type:
    from Xlib import X

    class _XListener(base):  # type: ignore[misc]
        _EVENTS = (X.KeyPress, X.MotionNotify)  # a RECORD range: KeyPress..MotionNotify, buttons included

        def __init__(self, source: InputSource) -> None:
            super().__init__()
            self._source = source

        def _initialize(self, display: Any) -> None:
            super()._initialize(display)
            self._source.warm_up()  # on this thread: the first real grab then costs ~1 ms, not ~100

        def _handle_message(self, display: Any, event: Any, injected: bool) -> None:
            self._source.handle(display, event)

        def _run(self) -> None:
            try:
                super()._run()
            except Exception as e:  # the X server went away, usually
                self._source.failure = e
                log.debug("recording listener ended: %s", e)
            finally:
                with self._source._lock:
                    self._source._lock.notify_all()

    return _XListener
