"""The kill switch: a global hotkey (pynput, X11 RECORD) that sets an Event the executor checks.

pynput opens its X connections from $DISPLAY when its listener starts; `start` points $DISPLAY at
the driven display for that moment (see `x_display`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from actions.desktop.x11 import x_display
from actions.errors import DisplayError
from actions.keys import DEFAULT_KILL_HOTKEY, MODIFIERS, parse_chord

log = logging.getLogger(__name__)

def _key_name(key: Any) -> str | None:
    """pynput Key/KeyCode -> a canonical name (modifiers folded: ctrl_l -> ctrl)."""
    name = getattr(key, "name", None)
    if name:
        base = name.split("_")[0]
        return {"cmd": "super"}.get(str(base), str(base))
    char = getattr(key, "char", None)
    if char:
        return str(char).lower()
    vk = getattr(key, "vk", None)
    if vk is not None and 0x20 <= vk < 0x7F:  # X keysyms for Latin-1 letters equal their codes
        return chr(vk).lower()
    return None


class KillSwitch:
    """Listens for `hotkey` anywhere on the display and sets `event` when it is pressed."""

    def __init__(self, hotkey: str = DEFAULT_KILL_HOTKEY, event: threading.Event | None = None,
                 display: str | None = None) -> None:
        self.keys = frozenset(parse_chord(hotkey))
        self.display = display
        self.hotkey = hotkey
        self.event = event or threading.Event()
        self._down: set[str] = set()
        self._listener: Any = None

    def _on_press(self, key: Any) -> None:
        name = _key_name(key)
        if name:
            self._down.add(name)
        if self.keys <= self._down:
            log.warning("kill switch %s pressed", self.hotkey)
            self.event.set()

    def _on_release(self, key: Any) -> None:
        name = _key_name(key)
        if name in MODIFIERS:
            self._down.discard(name)
        elif name:
            self._down.discard(name)

    def start(self) -> KillSwitch:
        try:
            with x_display(self.display):
                from pynput import keyboard
                self._listener = keyboard.Listener(on_press=self._on_press, on_release=self._on_release)
                self._listener.start()
                self._listener.wait()
        except Exception as e:  # no display, no RECORD extension
            raise DisplayError(f"cannot start the kill switch: {e}".splitlines()[0]) from e
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        # pynput's stop() disables the RECORD context on the connection its thread is blocked
        # reading, which does not always wake it once events have flowed; disabling it on the
        # other connection does. Then wait for the thread, before the X server may go away.
        try:
            listener._display_stop.record_disable_context(listener._context)
            listener._display_stop.flush()
        except Exception:  # already stopped, or the server is gone
            pass
        listener.join(timeout=1)
        if listener.is_alive():
            try:
                listener.stop()
            except Exception:  # its connections closed meanwhile
                pass
            listener.join(timeout=1)

    def __enter__(self) -> KillSwitch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
