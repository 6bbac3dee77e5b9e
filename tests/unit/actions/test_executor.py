"""The executor on a FakeDesktop: guards before action, confirmation, results as values, stopping."""

from __future__ import annotations

import threading

import pytest

from actions.desktop.base import WindowInfo
from actions.desktop.fake import DryRunDesktop, FakeDesktop
from actions.errors import KillSwitchPressed
from actions.executor import Executor
from actions.models import Click, Done, Drag, Key, Point, Scroll, Type, Wait
from actions.policy import Policy


def test_performs_each_kind_in_screen_space() -> None:
    d = FakeDesktop()
    ex = Executor(d)
    for action in [Click(x=10, y=20, button="right", count=2, modifiers=("ctrl",)),
                   Drag(path=(Point(x=1, y=1), Point(x=50, y=60))), Scroll(x=5, y=6, dy=3),
                   Type(text="hello"), Key(chord="ctrl+s"), Done(summary="ok")]:
        assert ex.execute(action).status == "performed"
    assert d.calls == [("click", 10, 20, "right", 2, ("ctrl",)), ("drag", ((1, 1), (50, 60)), "left", ()),
                       ("scroll", 5, 6, 0, 3, ()), ("type", "hello"), ("press", ("ctrl", "s"))]


def test_denied_actions_are_never_performed() -> None:
    d = FakeDesktop()
    ex = Executor(d)
    for action in [Type(text="sudo rm -rf / \n"), Key(chord="ctrl+alt+BackSpace"), Click(x=5000, y=5)]:
        result = ex.execute(action)
        assert result.status == "denied" and result.verdict.reason
    assert d.calls == []


def test_invalid_dicts_become_invalid_results() -> None:
    d = FakeDesktop()
    result = Executor(d).execute({"kind": "key", "chord": "ctrl+bogus"})
    assert result.status == "invalid" and "unknown key name" in (result.error or "")
    assert d.calls == []


def test_confirmation_goes_through_the_callback() -> None:
    d = FakeDesktop(window=WindowInfo(title="Bank login", app="firefox"))
    asked = []

    def yes(action, verdict):
        asked.append(verdict.guard)
        return True

    assert Executor(d, confirm=lambda a, v: False).execute(Click(x=5, y=5)).status == "declined"
    assert d.calls == []
    assert Executor(d, confirm=yes).execute(Click(x=5, y=5)).status == "performed"
    assert asked == ["sensitive_window"]
    assert Executor(d, Policy(confirm="never")).execute(Click(x=6, y=6)).status == "performed"


def test_desktop_errors_become_failed_results() -> None:
    class Broken(FakeDesktop):
        def click(self, *args):
            raise OSError("X connection broken")

    result = Executor(Broken()).execute(Click(x=5, y=5))
    assert result.status == "failed" and "X connection broken" in (result.error or "")


def test_kill_switch_stops_before_the_next_action_and_during_waits() -> None:
    d = FakeDesktop()
    kill = threading.Event()
    ex = Executor(d, kill=kill)
    threading.Timer(0.05, kill.set).start()
    with pytest.raises(KillSwitchPressed):
        ex.execute(Wait(seconds=30))
    with pytest.raises(KillSwitchPressed):
        ex.execute(Click(x=5, y=5))
    assert d.calls == []


def test_pointer_in_a_corner_trips_the_fail_safe() -> None:
    d = FakeDesktop()
    d.move(0, 0)
    with pytest.raises(KillSwitchPressed, match="fail-safe"):
        Executor(d).execute(Type(text="x"))
    assert Executor(d, Policy(failsafe_corners=False)).execute(Type(text="x")).ok


def test_long_text_checks_the_kill_switch_between_chunks() -> None:
    kill = threading.Event()

    class Typist(FakeDesktop):
        def type_text(self, text):
            super().type_text(text)
            kill.set()  # the user hits the hotkey while typing

    d = Typist()
    with pytest.raises(KillSwitchPressed):
        Executor(d, kill=kill).execute(Type(text="x" * 100))
    assert len(d.calls) == 1


def test_rate_limit_counts_performed_actions() -> None:
    now = [0.0]
    ex = Executor(FakeDesktop(), Policy(max_actions=2, rate_window_s=1.0), clock=lambda: now[0])
    assert ex.execute(Click(x=5, y=5)).ok
    assert ex.execute(Click(x=5, y=5)).ok
    assert ex.execute(Click(x=5, y=5)).status == "denied"
    now[0] = 5.0
    assert ex.execute(Click(x=5, y=5)).ok


def test_dry_run_performs_nothing_but_notes_everything() -> None:
    inner = FakeDesktop()
    dry = DryRunDesktop(inner)
    ex = Executor(dry)
    assert ex.execute(Click(x=7, y=8)).ok
    assert ex.execute(Type(text="hi")).ok
    assert inner.calls == []
    assert dry.would == [("click", 7, 8, "left", 1, ()), ("type", "hi")]
