"""The event merger on synthetic streams: raw X-like events in, actions of the action language out."""

from __future__ import annotations

import string

import pytest

from actions.models import Click, Drag, Key, Point, Scroll, Type, Wait
from agent.demonstration.events import ButtonEvent, KeyEvent, MotionEvent, RawEvent, simplify_path
from agent.demonstration.merge import MergeConfig, Merger, merge
from agent.recording.format import REDACTED

# A US keyboard: keycode -> (unshifted name, unshifted char, shifted char)
_KEYS: dict[str, tuple[int, str | None, str | None]] = {
    "shift": (50, None, None), "ctrl": (37, None, None), "alt": (64, None, None), "super": (133, None, None),
    "enter": (36, None, None), "tab": (23, None, None), "esc": (9, None, None),
    "backspace": (22, None, None), "space": (65, " ", " "), "1": (10, "1", "!"), "2": (11, "2", "@"),
    ".": (60, ".", ">"),
}
for i, ch in enumerate(string.ascii_lowercase):
    _KEYS[ch] = (100 + i, ch, ch.upper())


class Stream:
    """Builds a timed event stream the way the X server would deliver it."""

    def __init__(self) -> None:
        self.t = 10.0
        self.events: list[RawEvent] = []
        self.shift = False

    def at(self, dt: float) -> Stream:
        self.t += dt
        return self

    def key(self, name: str, pressed: bool, sensitive: bool = False) -> Stream:
        code, plain, shifted = _KEYS[name]
        if name == "shift":
            self.shift = pressed
        char = shifted if self.shift else plain
        self.events.append(KeyEvent(self.t, pressed, code, name, char, sensitive, context=f"k{len(self.events)}"))
        self.t += 0.01
        return self

    def tap(self, name: str, sensitive: bool = False) -> Stream:
        return self.key(name, True, sensitive).key(name, False, sensitive)

    def type(self, text: str, sensitive: bool = False) -> Stream:
        for ch in text:
            if ch.isupper() or ch in "!>":
                base = {"!": "1", ">": "."}.get(ch, ch.lower())
                self.key("shift", True).key(base, True, sensitive).key("shift", False).key(base, False, sensitive)
            else:
                self.tap({" ": "space"}.get(ch, ch), sensitive)
        return self

    def chord(self, *names: str) -> Stream:
        for n in names:
            self.key(n, True)
        for n in reversed(names):
            self.key(n, False)
        return self

    def button(self, b: int, pressed: bool, x: int, y: int) -> Stream:
        self.events.append(ButtonEvent(self.t, pressed, b, x, y, context=f"b{len(self.events)}"))
        self.t += 0.01
        return self

    def click(self, x: int, y: int, b: int = 1) -> Stream:
        return self.button(b, True, x, y).button(b, False, x, y)

    def move(self, x: int, y: int) -> Stream:
        self.events.append(MotionEvent(self.t, x, y))
        self.t += 0.01
        return self

    def merged(self, stop: str | None = "ctrl+alt+shift+r") -> list:
        return [d.action for d in merge(self.events, MergeConfig(), stop)]


def test_click_and_right_click_and_modifier_click() -> None:
    s = Stream().click(100, 200).at(1).click(300, 40, b=3).at(1)
    s.key("ctrl", True).click(5, 6).key("ctrl", False)
    assert s.merged() == [Click(x=100, y=200), Click(x=300, y=40, button="right"),
                          Click(x=5, y=6, modifiers=("ctrl",))]


def test_double_and_triple_click_merge_within_interval_and_distance() -> None:
    s = Stream().click(50, 50).at(0.1).click(51, 50).at(1.0)
    s.click(80, 80).at(0.1).click(80, 81).at(0.1).click(81, 81).at(0.1).click(81, 81)
    assert s.merged() == [Click(x=50, y=50, count=2), Click(x=80, y=80, count=3), Click(x=81, y=81)]


def test_clicks_too_slow_or_too_far_stay_single() -> None:
    s = Stream().click(50, 50).at(0.6).click(50, 50).at(1.0).click(10, 10).at(0.05).click(30, 10)
    assert s.merged() == [Click(x=50, y=50), Click(x=50, y=50), Click(x=10, y=10), Click(x=30, y=10)]


def test_drag_path_is_simplified_and_keeps_its_ends() -> None:
    s = Stream().button(1, True, 100, 100)
    for i in range(1, 51):
        s.move(100 + 4 * i, 100)          # a straight segment ...
    for i in range(1, 26):
        s.move(300, 100 + 4 * i)          # ... then a corner
    s.button(1, False, 300, 200)
    (drag,) = s.merged()
    assert isinstance(drag, Drag)
    assert drag.path == (Point(x=100, y=100), Point(x=300, y=100), Point(x=300, y=200))


def test_small_jitter_while_pressed_is_still_a_click() -> None:
    s = Stream().button(1, True, 100, 100).move(102, 101).move(103, 99).button(1, False, 103, 99)
    assert s.merged() == [Click(x=100, y=100)]


def test_typed_text_with_backspace_correction_and_enter_as_key() -> None:
    s = Stream().click(10, 10).at(0.5).type("echo helo").tap("backspace").type("lo Wor!").tap("enter")
    assert s.merged() == [Click(x=10, y=10), Type(text="echo hello Wor!"), Key(chord="enter")]


def test_backspace_with_nothing_pending_is_a_key_and_tab_splits_text() -> None:
    s = Stream().tap("backspace").type("ab").tap("tab").type("c")
    assert s.merged() == [Key(chord="backspace"), Type(text="ab"), Key(chord="tab"), Type(text="c")]


def test_shift_letters_pair_by_keycode_not_character() -> None:
    # shift pressed, 'a' pressed (char 'A'), shift released, 'a' released (char 'a'): one 'A'
    s = Stream().key("shift", True).key("a", True).key("shift", False).key("a", False).type("b")
    assert s.merged() == [Type(text="Ab")]


def test_chords_use_unshifted_names_and_lone_modifier_taps() -> None:
    s = Stream().chord("ctrl", "c").chord("ctrl", "shift", "1").chord("alt", "tab").tap("super").tap("shift")
    assert s.merged() == [Key(chord="ctrl+c"), Key(chord="ctrl+shift+1"), Key(chord="alt+tab"), Key(chord="super")]


def test_chord_flushes_pending_text_in_order() -> None:
    s = Stream().type("abc").chord("ctrl", "a").type("x")
    assert s.merged() == [Type(text="abc"), Key(chord="ctrl+a"), Type(text="x")]


def test_scroll_burst_sums_ticks_and_a_pause_splits_bursts() -> None:
    s = Stream()
    for _ in range(3):
        s.click(400, 300, b=5).at(0.05)
    s.at(1.0)
    for _ in range(2):
        s.click(400, 300, b=4).at(0.05)
    s.click(400, 300, b=7)
    assert s.merged() == [Scroll(x=400, y=300, dy=3), Scroll(x=400, y=300, dx=1, dy=-2)]


def test_long_idle_becomes_a_capped_wait_short_idle_does_not() -> None:
    s = Stream().click(1, 1).at(1.0).click(200, 2).at(3.0).type("a").at(30.0).click(3, 3)
    actions = s.merged()
    assert actions[:2] == [Click(x=1, y=1), Click(x=200, y=2)]
    assert isinstance(actions[2], Wait) and 2.9 <= actions[2].seconds <= 3.1
    assert actions[3] == Type(text="a")
    assert actions[4] == Wait(seconds=10.0)
    assert actions[5] == Click(x=3, y=3)


def test_leading_and_trailing_idle_are_not_kept() -> None:
    s = Stream().at(20).click(1, 1).at(20)
    assert s.merged() == [Click(x=1, y=1)]


def test_stop_hotkey_is_never_recorded_and_ends_the_stream() -> None:
    s = Stream().type("hi")
    s.key("ctrl", True).key("alt", True).key("shift", True).key("r", True)
    s.key("r", False).key("shift", False).key("alt", False).key("ctrl", False).click(5, 5)
    merger = Merger(MergeConfig(), "ctrl+alt+shift+r")
    out = []
    for e in s.events:
        out += merger.feed(e)
    out += merger.finish()
    assert [d.action for d in out] == [Type(text="hi")]
    assert merger.stopped


def test_a_configured_stop_hotkey_replaces_the_default() -> None:
    s = Stream().chord("ctrl", "alt", "shift", "r").chord("ctrl", "q").click(1, 1)
    assert s.merged(stop="ctrl+q") == [Key(chord="ctrl+alt+shift+r")]


def test_text_in_a_sensitive_window_is_one_placeholder_whatever_its_length() -> None:
    s = Stream().type("user").tap("tab").type("hunter2", sensitive=True).tap("backspace", sensitive=True)
    s.type("X", sensitive=True).tap("enter")
    out = merge(s.events, stop_hotkey=None)
    assert [d.action for d in out] == [Type(text="user"), Key(chord="tab"), Type(text=REDACTED), Key(chord="enter")]
    assert out[2].redacted
    assert "hunter" not in repr(out)


def test_context_of_the_first_event_travels_with_the_action() -> None:
    s = Stream().type("ab").click(9, 9)
    out = merge(s.events)
    assert out[0].context == s.events[0].context  # the 'a' press
    assert out[1].context == s.events[4].context  # the button press
    assert out[0].started <= out[0].ended <= out[1].started


def test_tick_finishes_a_single_click_after_the_double_click_interval() -> None:
    merger = Merger()
    assert merger.feed(ButtonEvent(1.0, True, 1, 10, 10)) == []
    assert merger.feed(ButtonEvent(1.05, False, 1, 10, 10)) == []
    assert merger.deadline == pytest.approx(1.4)
    assert merger.tick(1.2) == []
    (done,) = merger.tick(1.41)
    assert done.action == Click(x=10, y=10)
    assert merger.deadline is None


def test_needs_frame_only_for_events_that_start_an_action() -> None:
    merger = Merger()
    a = KeyEvent(1.0, True, 100, "a", "a")
    assert merger.needs_frame(a)
    merger.feed(a)
    assert not merger.needs_frame(KeyEvent(1.1, True, 101, "b", "b"))
    assert not merger.needs_frame(KeyEvent(1.1, True, 50, "shift", None))
    assert merger.needs_frame(KeyEvent(1.1, True, 36, "enter", None))
    assert merger.needs_frame(ButtonEvent(1.2, True, 1, 5, 5))
    assert not merger.needs_frame(MotionEvent(1.2, 5, 5))


def test_simplify_path_bounds_points_and_keeps_two() -> None:
    zigzag = [(i, (i % 2) * 50) for i in range(200)]
    out = simplify_path(zigzag, epsilon=1.0, max_points=10)
    assert 2 <= len(out) <= 10 and out[0] == (0, 0) and out[-1] == zigzag[-1]
    assert simplify_path([(5, 5)]) == [(5, 5), (5, 5)]
