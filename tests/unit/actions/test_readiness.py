"""The executor's readiness hooks: auto-wait before an action, typed text read back after."""

from __future__ import annotations

import threading

import pytest

from actions.desktop.fake import FakeDesktop
from actions.errors import KillSwitchPressed
from actions.executor import Executor
from actions.models import Click, Key, Type
from actions.readiness import Check, FakeReadiness, NoReadiness, Readiness


def test_a_target_that_never_gets_ready_fails_the_action_unperformed() -> None:
    d = FakeDesktop()
    ready = FakeReadiness(blocked=lambda a: "the Save button stayed insensitive for 2 s" if a.kind == "key" else None)
    ex = Executor(d, readiness=ready)
    result = ex.execute(Key(chord="Return"))
    assert result.status == "failed" and result.error == "the Save button stayed insensitive for 2 s"
    assert d.calls == []
    assert ex.execute(Click(x=5, y=5)).status == "performed" and d.calls == [("click", 5, 5, "left", 1, ())]


def test_typed_text_that_did_not_arrive_is_a_failed_result() -> None:
    d = FakeDesktop()
    ex = Executor(d, readiness=FakeReadiness(check=lambda a: Check(False, "the field reads '1' instead of '12'")))
    result = ex.execute(Type(text="12"))
    assert result.status == "failed" and result.verified is False
    assert result.error == "the field reads '1' instead of '12'"
    assert d.calls == [("type", "12")]  # it was sent: the planner must know it did not land


def test_verified_and_unverifiable_text_are_said_in_the_result() -> None:
    d = FakeDesktop()
    checks = iter([Check(True, "read back through accessibility"), Check(None, "no accessibility: not checked")])
    ex = Executor(d, readiness=FakeReadiness(check=lambda a: next(checks)))
    ok = ex.execute(Type(text="hello"))
    assert ok.status == "performed" and ok.verified is True and ok.verify_note == "read back through accessibility"
    unknown = ex.execute(Type(text="hello"))
    assert unknown.status == "performed" and unknown.verified is None and "not checked" in (unknown.verify_note or "")


def test_denied_actions_never_reach_readiness() -> None:
    ready = FakeReadiness()
    Executor(FakeDesktop(), readiness=ready).execute(Key(chord="ctrl+alt+BackSpace"))
    assert ready.calls == []


def test_both_conform() -> None:
    assert isinstance(NoReadiness(), Readiness) and isinstance(FakeReadiness(), Readiness)
    assert NoReadiness().before(Click(x=1, y=1)) is None and NoReadiness().after(Type(text="x")).ok is None


def test_the_kill_switch_fired_while_waiting_stops_before_acting() -> None:
    kill = threading.Event()
    d = FakeDesktop()

    def wait_then_kill(action: object) -> str | None:
        kill.set()  # pressed while the executor waited for the target
        return None
    with pytest.raises(KillSwitchPressed):
        Executor(d, kill=kill, readiness=FakeReadiness(blocked=wait_then_kill)).execute(Click(x=5, y=5))
    assert d.calls == []
