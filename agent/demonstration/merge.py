"""Raw input events of a human demonstration -> actions of the action language. Pure: no X, no clock.

    merger = Merger(MergeConfig(), stop_hotkey="ctrl+alt+shift+r")
    for event in events:                   # KeyEvent / ButtonEvent / MotionEvent, in server order
        done += merger.feed(event)
    done += merger.tick(now)               # finishes what waited for a double click or a burst
    done += merger.finish()                # at the end: everything still pending

Rules (times in seconds on one clock, the events' own):
- press + release of a button -> `click`; a second/third press of the same button within
  `double_click_s` of the previous press and `double_click_px` of the first -> count 2 / 3.
- press, moves beyond `drag_px`, release -> `drag` with its path simplified (Ramer-Douglas-Peucker,
  at most `path_max_points`).
- printable characters (shift applied; no ctrl/alt/super held) -> one `type`; backspace removes the
  last pending character (and is a `backspace` key when nothing is pending).
- Return, Tab, Escape, arrows, function keys... -> `key` (Return is never folded into `type` as a
  newline: a submit is its own step, with its own screen after it).
- a key pressed while ctrl/alt/super is held -> `key` chord (the unshifted key name: ctrl+shift+1,
  not ctrl+shift+!). A lone tap of ctrl/alt/super -> `key`; a lone shift is ignored.
- wheel ticks less than `scroll_burst_s` apart -> one `scroll` with summed dx/dy (+dy = down).
- a pause longer than `wait_min_s` between two actions -> `wait` (capped at `wait_max_s`); the idle
  time before the first action and after the last one is not kept.
- the stop hotkey is never recorded: its keys produce nothing, and everything after it is ignored.
- keys are paired by keycode (shift+a presses 'A' and releases 'a').
- text typed where `KeyEvent.sensitive` is true becomes one `type` of `REDACTED` per run, whatever
  its length; backspaces inside it are absorbed.

Each output carries `context`: the opaque value of the event that started the action (the frame
grabbed on that press, the window), so the caller can build targets without the merger knowing
about pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from actions.keys import MODIFIERS, format_chord, parse_chord
from actions.models import MAX_SCROLL, MAX_TEXT, Action, Button, Click, Drag, Key, Point, Scroll, Type, Wait
from agent.demonstration.events import ButtonEvent, KeyEvent, MotionEvent, RawEvent, simplify_path
from agent.recording.format import REDACTED

_BUTTONS: dict[int, Button] = {1: "left", 2: "middle", 3: "right"}
_WHEEL = {4: (0, -1), 5: (0, 1), 6: (-1, 0), 7: (1, 0)}  # X button -> (dx, dy), +dy = down
_CHORD_MODS = frozenset({"ctrl", "alt", "super"})


@dataclass(frozen=True)
class MergeConfig:
    double_click_s: float = 0.4
    double_click_px: int = 5
    drag_px: int = 8
    scroll_burst_s: float = 0.35
    scroll_px: int = 24
    wait_min_s: float = 2.0
    wait_max_s: float = 10.0
    path_epsilon_px: float = 3.0
    path_max_points: int = 24


@dataclass(frozen=True)
class Demonstrated:
    """One merged action, when it started and ended, and the context of its first event."""

    action: Action
    started: float
    ended: float
    context: Any = None
    redacted: bool = False


# --------------------------------------------------------------------------- pending items


@dataclass
class _Text:
    chars: list[str]
    started: float
    ended: float
    context: Any
    redacted: bool


@dataclass
class _Click:
    button: int
    x: int
    y: int
    count: int
    last_press: float
    started: float
    ended: float
    context: Any
    modifiers: tuple[str, ...]


@dataclass
class _Scroll:
    x: int
    y: int
    dx: int
    dy: int
    started: float
    ended: float
    context: Any
    modifiers: tuple[str, ...]


@dataclass
class _Press:
    button: int
    x: int
    y: int
    t: float
    context: Any
    modifiers: tuple[str, ...]
    path: list[tuple[int, int]] = field(default_factory=list)
    dragging: bool = False
    continues: bool = False  # the next press of a multi-click


_Pending = _Text | _Click | _Scroll


class Merger:
    """Stateful, incremental: feed events in order; see the module docstring for the rules."""

    def __init__(self, config: MergeConfig | None = None, stop_hotkey: str | None = None) -> None:
        self.config = config or MergeConfig()
        self.stop_keys = frozenset(parse_chord(stop_hotkey)) if stop_hotkey else frozenset()
        self.stopped = False
        self._held: dict[int, str] = {}          # keycode -> canonical name, for every held key
        self._lone_mod: int | None = None         # keycode of a modifier pressed with nothing else yet
        self._pending: _Pending | None = None
        self._press: _Press | None = None
        self._last_end: float | None = None       # end of the last action (for waits)
        self._pointer: tuple[int, int] = (0, 0)

    # -- public

    @property
    def deadline(self) -> float | None:
        """When `tick` will next have something to finish (None: nothing is waiting on time)."""
        p, c = self._pending, self.config
        if isinstance(p, _Click):
            return p.last_press + c.double_click_s
        if isinstance(p, _Scroll):
            return p.ended + c.scroll_burst_s
        if isinstance(p, _Text):
            return p.ended + c.wait_min_s
        return None

    def needs_frame(self, event: RawEvent) -> bool:
        """Whether this event may start a new action (so its screen should be grabbed now)."""
        if isinstance(event, MotionEvent) or not event.pressed:
            return False
        if isinstance(event, ButtonEvent):
            return not (event.button in _WHEEL and isinstance(self._pending, _Scroll))
        if event.name in MODIFIERS:
            return False
        typing = event.char is not None or event.name == "backspace"
        return not (typing and isinstance(self._pending, _Text) and not self._chord_mods())

    def feed(self, event: RawEvent) -> list[Demonstrated]:
        if self.stopped:
            return []
        out: list[Demonstrated] = []
        if isinstance(event, KeyEvent):
            self._key(event, out)
        elif isinstance(event, ButtonEvent):
            self._button(event, out)
        else:
            self._motion(event)
        return out

    def tick(self, now: float) -> list[Demonstrated]:
        deadline = self.deadline
        if deadline is not None and now >= deadline:
            return self._flush()
        return []

    def finish(self) -> list[Demonstrated]:
        """Everything still pending (an unreleased press is dropped)."""
        self._press = None
        return self._flush()

    # -- helpers

    def _mods(self) -> tuple[str, ...]:
        names = {n for n in self._held.values() if n in MODIFIERS}
        return tuple(m for m in ("ctrl", "alt", "shift", "super") if m in names)

    def _chord_mods(self) -> bool:
        return any(n in _CHORD_MODS for n in self._held.values())

    def _flush(self) -> list[Demonstrated]:
        p, self._pending = self._pending, None
        if p is None:
            return []
        self._last_end = max(self._last_end or p.ended, p.ended)
        return _emit(p, self.config)

    def _emit_now(self, action: Action, started: float, ended: float, context: Any,
                  out: list[Demonstrated]) -> None:
        out.extend(self._flush())
        out.append(Demonstrated(action, started, ended, context))
        self._last_end = ended

    def _maybe_wait(self, t: float, out: list[Demonstrated]) -> None:
        """Before a new action: flush what is pending, then keep a long pause as a wait."""
        last = self._pending.ended if self._pending is not None else self._last_end
        if last is None or t - last <= self.config.wait_min_s:
            return
        out.extend(self._flush())
        seconds = round(min(t - last, self.config.wait_max_s), 2)
        out.append(Demonstrated(Wait(seconds=seconds), last, t))

    # -- keys

    def _key(self, e: KeyEvent, out: list[Demonstrated]) -> None:
        if not e.pressed:
            self._key_release(e, out)
            return
        repeat = e.keycode in self._held
        self._held[e.keycode] = e.name
        if self.stop_keys and self.stop_keys <= set(self._held.values()):
            self.stopped = True
            self._lone_mod = None
            out.extend(self._flush())
            return
        if e.name in MODIFIERS:
            if not repeat:
                self._lone_mod = e.keycode if len(self._held) == 1 and self._press is None else None
            return
        self._lone_mod = None
        if not e.name and e.char is None:
            return  # a key with no name we know (media keys...): nothing to record
        self._maybe_wait(e.t, out)
        mods = self._mods()
        if not self._chord_mods():
            if e.char is not None:
                self._type(e, e.char, out)
                return
            if e.name == "space":
                self._type(e, " ", out)
                return
            if e.name == "backspace" and isinstance(self._pending, _Text) and not mods:
                self._backspace(e)
                return
        if e.name:
            self._emit_now(Key(chord=format_chord(parse_chord((*mods, e.name)))), e.t, e.t, e.context, out)

    def _key_release(self, e: KeyEvent, out: list[Demonstrated]) -> None:
        name = self._held.pop(e.keycode, None)
        if self._lone_mod == e.keycode:
            self._lone_mod = None
            if name in _CHORD_MODS and not self.stopped:
                self._maybe_wait(e.t, out)
                self._emit_now(Key(chord=name), e.t, e.t, e.context, out)

    def _type(self, e: KeyEvent, char: str, out: list[Demonstrated]) -> None:
        p = self._pending
        if not (isinstance(p, _Text) and p.redacted == e.sensitive):
            out.extend(self._flush())
            p = self._pending = _Text([], e.t, e.t, e.context, e.sensitive)
        if len(p.chars) >= MAX_TEXT:
            out.extend(self._flush())
            p = self._pending = _Text([], e.t, e.t, e.context, e.sensitive)
        p.chars.append(char)
        p.ended = e.t

    def _backspace(self, e: KeyEvent) -> None:
        p = self._pending
        assert isinstance(p, _Text)
        if p.chars and not p.redacted:
            p.chars.pop()
        p.ended = e.t

    # -- pointer

    def _button(self, e: ButtonEvent, out: list[Demonstrated]) -> None:
        self._pointer = (e.x, e.y)
        self._lone_mod = None
        if e.button in _WHEEL:
            if e.pressed:
                self._wheel(e, out)
            return
        if e.button not in _BUTTONS:
            return
        if e.pressed:
            self._button_press(e, out)
        elif self._press is not None and self._press.button == e.button:
            self._button_release(e, out)

    def _button_press(self, e: ButtonEvent, out: list[Demonstrated]) -> None:
        c, p = self.config, self._pending
        continues = (isinstance(p, _Click) and p.button == e.button and p.count < 3
                     and e.t - p.last_press <= c.double_click_s
                     and math.dist((p.x, p.y), (e.x, e.y)) <= c.double_click_px)
        if not continues:
            self._maybe_wait(e.t, out)
            out.extend(self._flush())
        self._press = _Press(e.button, e.x, e.y, e.t, e.context, self._mods(), [(e.x, e.y)],
                             continues=continues)

    def _button_release(self, e: ButtonEvent, out: list[Demonstrated]) -> None:
        press, self._press = self._press, None
        assert press is not None
        if press.dragging or math.dist((press.x, press.y), (e.x, e.y)) > self.config.drag_px:
            path = simplify_path([*press.path, (e.x, e.y)], self.config.path_epsilon_px,
                                 self.config.path_max_points)
            drag = Drag(path=tuple(Point(x=x, y=y) for x, y in path), button=_BUTTONS[press.button],
                        modifiers=press.modifiers)
            self._emit_now(drag, press.t, e.t, press.context, out)
            return
        p = self._pending
        if press.continues and isinstance(p, _Click):
            p.count += 1
            p.last_press, p.ended = press.t, e.t
            if p.count == 3:
                out.extend(self._flush())
            return
        out.extend(self._flush())
        self._pending = _Click(press.button, press.x, press.y, 1, press.t, press.t, e.t, press.context,
                               press.modifiers)

    def _motion(self, e: MotionEvent) -> None:
        self._pointer = (e.x, e.y)
        press = self._press
        if press is None:
            return
        press.path.append((e.x, e.y))
        if not press.dragging and math.dist((press.x, press.y), (e.x, e.y)) > self.config.drag_px:
            press.dragging = True

    def _wheel(self, e: ButtonEvent, out: list[Demonstrated]) -> None:
        dx, dy = _WHEEL[e.button]
        c, p = self.config, self._pending
        mods = self._mods()
        if (isinstance(p, _Scroll) and e.t - p.ended <= c.scroll_burst_s and p.modifiers == mods
                and math.dist((p.x, p.y), (e.x, e.y)) <= c.scroll_px
                and abs(p.dx + dx) <= MAX_SCROLL and abs(p.dy + dy) <= MAX_SCROLL):
            p.dx, p.dy, p.ended = p.dx + dx, p.dy + dy, e.t
            return
        self._maybe_wait(e.t, out)
        out.extend(self._flush())
        self._pending = _Scroll(e.x, e.y, dx, dy, e.t, e.t, e.context, mods)


def _emit(p: _Pending, config: MergeConfig) -> list[Demonstrated]:
    if isinstance(p, _Text):
        if p.redacted:
            return [Demonstrated(Type(text=REDACTED), p.started, p.ended, p.context, redacted=True)]
        if not p.chars:
            return []
        return [Demonstrated(Type(text="".join(p.chars)), p.started, p.ended, p.context)]
    if isinstance(p, _Click):
        click = Click(x=p.x, y=p.y, button=_BUTTONS[p.button], count=p.count, modifiers=p.modifiers)
        return [Demonstrated(click, p.started, p.ended, p.context)]
    if p.dx == 0 and p.dy == 0:
        return []
    scroll = Scroll(x=p.x, y=p.y, dx=p.dx, dy=p.dy, modifiers=p.modifiers)
    return [Demonstrated(scroll, p.started, p.ended, p.context)]


def merge(events: Sequence[RawEvent], config: MergeConfig | None = None,
          stop_hotkey: str | None = None) -> list[Demonstrated]:
    """Merge a whole stream at once (tests, offline conversion)."""
    merger = Merger(config, stop_hotkey)
    out: list[Demonstrated] = []
    for event in events:
        deadline = merger.deadline
        if deadline is not None and event.t >= deadline:
            out += merger.tick(event.t)
        out += merger.feed(event)
    return out + merger.finish()


# --------------------------------------------------------------------------- paths
