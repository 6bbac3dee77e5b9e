"""Waiting for the app's reaction (`settle` with an `Expectation`), on a scripted screen and clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image, ImageDraw

from actions.desktop.base import Screenshot
from actions.desktop.fake import FakeDesktop
from actions.models import Box, Click, Key, Move, Scroll, Target, Type, Wait
from agent.perception.reaction import (
    Expectation,
    FakeWindows,
    Reactions,
    ReactionSettings,
    WindowState,
    reacting_kind,
)
from agent.perception.settle import settle

BUTTON = (100, 100, 200, 130)          # the clicked widget
LABEL = (100, 180, 220, 200)           # where the app reacts
CLICK = Box(left=140, top=110, right=160, bottom=120)  # OCR box of the button's text


class App:
    """A screen drawn from a fake clock: `events` are (from_s, draw) applied once their time came."""

    def __init__(self, *events: tuple[float, Callable[[ImageDraw.ImageDraw], None]], grab_s: float = 0.005) -> None:
        self.now = 0.0
        self.events = events
        self.grab_s = grab_s
        self.grabs = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s

    def picture(self, at: float | None = None) -> Image.Image:
        image = Image.new("RGB", (320, 240), "white")
        draw = ImageDraw.Draw(image)
        draw.rectangle(BUTTON, outline="black", fill="#dddddd")
        for when, paint in self.events:
            if (self.now if at is None else at) >= when:
                paint(draw)
        return image

    def capture(self, monitor: int | None = None) -> Screenshot:
        self.now += self.grab_s
        self.grabs += 1
        return Screenshot(image=self.picture(), captured_at=self.now)


def hover(d: ImageDraw.ImageDraw) -> None:     # the whole button lights up (wider than its text)
    d.rectangle(BUTTON, outline="black", fill="#eeeeee")


def flash_on(d: ImageDraw.ImageDraw) -> None:
    d.rectangle(BUTTON, outline="black", fill="yellow")


def react(d: ImageDraw.ImageDraw) -> None:
    d.text((LABEL[0], LABEL[1]), "submitted 1", fill="black")


def expecting(app: App, deadline: float = 1.0, **kw) -> Expectation:
    before = Screenshot(image=app.picture(at=-1.0), captured_at=app.now)  # before the action
    own = kw.pop("own", (Box(left=130, top=95, right=170, bottom=135), CLICK))
    return Expectation(before=before, deadline_s=deadline, own=own, **kw)


def run(app: App, expect: Expectation, **kw):
    return settle(app, expect.before, expect, clock=app.clock, sleep=app.sleep, **kw)  # type: ignore[arg-type]


def test_the_widgets_own_flash_is_not_the_reaction_a_late_one_is_waited_for() -> None:
    app = App((0.0, hover), (0.0, flash_on), (0.15, hover), (0.7, react))
    result = run(app, expecting(app))
    assert result.reaction is not None and result.reaction.signal == "screen"
    assert 0.7 <= result.reaction.reacted_s <= 0.72 and 0.7 <= result.waited_s <= 0.8
    assert result.changed is not None and result.changed.bottom >= LABEL[1]  # the frame shows it


def test_an_app_that_reacts_at_once_costs_no_extra_wait() -> None:
    app = App((0.0, hover), (0.0, react))
    result = run(app, expecting(app))
    assert result.reaction.signal == "screen" and result.reaction.reacted_s <= 0.01
    plain_app = App((0.0, hover), (0.0, react))
    plain = settle(plain_app, expecting(plain_app).before, clock=plain_app.clock)  # type: ignore[arg-type]
    assert result.waited_s <= plain.waited_s + 0.001 and result.grabs <= plain.grabs  # no extra wait


def test_only_the_widget_changed_or_nothing_waits_the_whole_deadline() -> None:
    app = App((0.0, hover))
    result = run(app, expecting(app, deadline=0.5))
    assert result.reaction.signal == "widget" and result.reaction.reacted_s is None
    assert 0.5 <= result.waited_s <= 0.6 and not result.reaction.missing
    app = App()
    result = run(app, expecting(app, deadline=0.5))
    assert result.reaction.signal == "none" and result.reaction.missing and not result.did_change
    assert app.grabs < 100  # it polls, it does not spin


def test_a_big_change_around_the_click_is_a_reaction_not_a_highlight() -> None:
    app = App((0.05, lambda d: d.rectangle((90, 90, 315, 235), fill="navy")))  # a menu opens under the pointer
    result = run(app, expecting(app))
    assert result.reaction.signal == "screen" and result.reaction.reacted_s <= 0.07


def test_without_own_boxes_any_change_is_the_reaction_and_live_boxes_are_ignored() -> None:
    caret = (300, 10, 301, 30)
    app = App((0.0, lambda d: d.rectangle(caret, fill="black")), (0.4, react))
    expect = expecting(app, own=(), live=(Box(left=296, top=8, right=304, bottom=32),))
    result = run(app, expect)
    assert result.reaction.signal == "screen" and 0.4 <= result.reaction.reacted_s <= 0.42


def test_a_new_window_or_title_is_a_reaction() -> None:
    app = App()
    base = WindowState(clients=frozenset({1}), active=1, title="form")
    windows = FakeWindows(base, base, WindowState(clients=frozenset({1, 2}), active=2, title="Save as"))
    result = run(app, expecting(app, windows=base), windows=windows)
    assert result.reaction.signal == "window" and result.reaction.waited_for == ("pixels", "windows", "focus", "title")
    titled = FakeWindows(base, WindowState(clients=frozenset({1}), active=1, title="form *"))
    assert run(App(), expecting(App(), windows=base), windows=titled).reaction.signal == "title"


def test_the_kill_switch_or_a_stop_interrupts_the_wait_within_a_poll() -> None:
    app = App()
    def interrupt() -> bool:
        return app.now >= 0.2
    result = run(app, expecting(app, interrupt=interrupt))
    assert result.reaction.signal == "stopped" and 0.2 <= result.waited_s <= 0.25

    class Killed(Exception):
        pass

    def kill() -> bool:
        raise Killed
    with pytest.raises(Killed):
        run(App(), expecting(App(), interrupt=kill))


def test_deadlines_by_kind_and_app_and_which_actions_expect_a_reaction() -> None:
    s = ReactionSettings(key_s=1.5, apps={"XCalc": 0.25, "soffice": {"type_s": 3.0}})
    assert s.deadline("click") == 1.0 and s.deadline("key") == 1.5
    assert s.deadline("click", "xcalc") == 0.25 and s.deadline("key", "XCALC") == 0.25
    assert s.deadline("type", "soffice") == 3.0 and s.deadline("click", "soffice") == 1.0
    assert [reacting_kind(a) for a in (Click(x=1, y=1), Key(chord="Return"), Key(chord="shift"), Type(text="a"),
                                       Move(x=1, y=1), Scroll(x=1, y=1, dy=1), Wait(seconds=1))] == \
        ["click", "key", None, "type", None, None, None]


def test_expect_takes_a_fresh_frame_when_the_last_one_is_old_and_marks_what_changed_by_itself() -> None:
    old, new = Image.new("RGB", (320, 240), "white"), Image.new("RGB", (320, 240), "white")
    ImageDraw.Draw(new).rectangle((10, 10, 11, 30), fill="black")  # a caret blinked meanwhile
    desktop = FakeDesktop([new])
    desktop.move(300, 200)
    now = [10.0]
    reactions = Reactions(ReactionSettings(), FakeWindows(WindowState(active=7)), clock=lambda: now[0])
    click = Click(x=150, y=115, target=Target(label="Submit", bbox=CLICK))
    expect = reactions.expect(click, desktop, Screenshot(image=old, captured_at=1.0), app="form")
    assert expect.before.image is not old and expect.deadline_s == 1.0
    assert expect.live == (Box(left=10, top=10, right=12, bottom=31),) and expect.windows == WindowState(active=7)
    assert CLICK in expect.own and any(b.contains(150, 115) for b in expect.own)
    assert any(b.contains(300, 200) for b in expect.own)  # where the pointer was: its hover goes away
    painting = new.copy()  # meanwhile a dialog drew its content too: the app is still drawing, watched
    ImageDraw.Draw(painting).rectangle((140, 80, 310, 230), fill="#cccccc")
    desktop = FakeDesktop([painting])
    expect = reactions.expect(Type(text="note.txt"), desktop, Screenshot(image=old, captured_at=1.0))
    assert expect.live == (Box(left=10, top=10, right=12, bottom=31),)
    fresh = Screenshot(image=old, captured_at=now[0])
    assert reactions.expect(click, desktop, fresh).before is fresh  # recent: not taken again
    assert reactions.expect(Scroll(x=1, y=1, dy=2), desktop, fresh).deadline_s == 0


def test_a_blinking_caret_is_not_the_reaction_to_a_click_but_a_small_label_change_is() -> None:
    caret = lambda d: d.rectangle((300, 40, 301, 58), fill="black")  # noqa: E731
    app = App((0.3, caret), (0.7, react))
    result = run(app, expecting(app))
    assert result.reaction.signal == "screen" and 0.7 <= result.reaction.reacted_s <= 0.72
    digit = lambda d: d.text((300, 40), "2", fill="black")  # noqa: E731
    app = App((0.3, digit))
    assert 0.3 <= run(app, expecting(app)).reaction.reacted_s <= 0.32


FIELD = (10, 150, 310, 176)  # a text field away from the button, focused before the click


def test_a_focus_ring_leaving_a_field_is_not_the_reaction_to_a_click_the_late_page_is() -> None:
    """A browser: clicking Submit takes the focus off the field typed into (its ring and caret go at
    once); the page the server sends comes 600 ms later, and that is what the next frame must show."""
    focused = lambda d: d.rectangle(FIELD, outline="#101010", width=2)  # noqa: E731
    caret = lambda d: d.line((40, 155, 40, 171), fill="black")  # noqa: E731
    unfocused = lambda d: (d.rectangle(FIELD, outline="#888888", width=2),  # noqa: E731
                           d.line((40, 155, 40, 171), fill="white"))
    app = App((-1.0, focused), (-1.0, caret), (0.0, unfocused), (0.0, flash_on), (0.6, react))
    result = run(app, expecting(app))
    assert result.reaction.signal == "screen" and 0.6 <= result.reaction.reacted_s <= 0.62
    app = App((-1.0, focused), (0.0, unfocused))  # the ring alone: the click's own doing, not missing
    result = run(app, expecting(app, deadline=0.5))
    assert result.reaction.signal == "widget" and not result.reaction.missing


def test_what_is_not_a_bare_ring_is_a_reaction_at_once() -> None:
    filled = lambda d: d.rectangle(FIELD, fill="navy")  # noqa: E731  the same box, filled: a banner
    written = lambda d: (d.rectangle(FIELD, outline="#888888", width=2),  # noqa: E731
                         d.text((20, 155), "saved", fill="black"))
    for paint in (filled, written):
        app = App((0.05, paint))
        assert run(app, expecting(app)).reaction.reacted_s <= 0.07
    focused = lambda d: d.rectangle(FIELD, outline="#101010", width=2)  # noqa: E731
    app = App((0.0, focused))  # after a key (no own boxes) the focus ring moving is the reaction: Tab
    assert run(app, expecting(app, own=())).reaction.reacted_s <= 0.01


class TitleAt:
    """A browser window on the App's clock: the page title changes at `at`; its inside is below a title bar."""

    def __init__(self, app: App, at: float) -> None:
        self.app, self.at = app, at

    def state(self) -> WindowState:
        return WindowState(clients=frozenset({1}), active=1, title="thanks" if self.app.now >= self.at else "form")

    def content(self, window: int) -> Box | None:
        return Box(left=0, top=20, right=320, bottom=240)


def test_a_new_title_is_the_reaction_once_the_window_inside_shows_it_too() -> None:
    """The page title comes as the navigation commits, its pixels 40 ms later; the title bar's
    repaint alone is not the new page: the frame returned shows the page."""
    title_bar = lambda d: d.rectangle((0, 0, 319, 15), fill="blue")  # noqa: E731
    app = App((0.6, title_bar), (0.64, react))
    windows = TitleAt(app, 0.6)
    result = run(app, expecting(app, windows=WindowState(clients=frozenset({1}), active=1, title="form")),
                 windows=windows)
    assert result.reaction.signal == "title" and 0.6 <= result.reaction.reacted_s <= 0.62
    assert result.waited_s >= 0.64 and result.changed is not None and result.changed.bottom >= LABEL[1]
    app = App((0.6, title_bar))  # a title and nothing else: still the reaction, at the deadline
    result = run(app, expecting(app, windows=WindowState(clients=frozenset({1}), active=1, title="form")),
                 windows=TitleAt(app, 0.6))
    assert result.reaction.signal == "title" and 0.6 <= result.reaction.reacted_s <= 0.62
    assert result.waited_s >= 1.0 and not result.reaction.missing
