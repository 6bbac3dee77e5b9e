"""Every ending recorded right: a known cause (display gone, disk full, interrupt, a library
thread's exception) is the recorded outcome, a bug is recorded as one and raised."""

from __future__ import annotations

import errno
import threading

import pytest

from actions.models import Click
from agent.planners.scripted import ScriptedPlanner
from agent.run.endings import ThreadFaults
from agent.run.loop import run_task
from tests.unit.run.test_loop import context


def raising(error: BaseException) -> ScriptedPlanner:
    def turn(observation: object, history: object) -> object:
        raise error
    return ScriptedPlanner([[Click(x=10, y=10)], turn])


@pytest.mark.parametrize(("error", "status", "reason"), [
    (OSError(errno.ENOSPC, "No space left on device"), "failed", "disk full: No space left on device"),
    (KeyboardInterrupt(), "stopped", "interrupted"),
])
def test_a_known_cause_is_the_recorded_outcome(error: BaseException, status: str, reason: str) -> None:
    ends = []
    ctx, rec, _ = context(raising(error))
    ctx.on_end = ends.append
    outcome = run_task("t", ctx)
    assert (outcome.status, outcome.reason, outcome.steps) == (status, reason, 1)
    assert rec.outcome == outcome and ends == [outcome]


def test_any_failure_on_a_display_that_is_gone_is_display_closed() -> None:
    ctx, rec, _ = context(raising(RuntimeError("Xlib: connection closed")))
    ctx.display = ":65000"  # no X server there
    outcome = run_task("t", ctx)
    assert (outcome.status, outcome.reason) == ("failed", "display :65000 closed")
    assert rec.outcome == outcome


def test_a_bug_is_recorded_as_an_internal_error_and_raised() -> None:
    ctx, rec, _ = context(raising(ValueError("boom")))
    with pytest.raises(ValueError, match="boom"):
        run_task("t", ctx)
    assert rec.outcome is not None
    assert (rec.outcome.status, rec.outcome.reason) == ("error", "internal error: ValueError: boom")


def test_a_library_thread_exception_ends_the_run_and_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    def crash() -> None:
        raise ConnectionError("listener lost its connection")

    with ThreadFaults() as faults:
        def turn(observation: object, history: object) -> object:
            t = threading.Thread(target=crash, name="kill-switch")
            t.start()
            t.join()
            return ScriptedPlanner([[Click(x=10, y=10)]]).next_turn("t", observation, [])  # type: ignore[arg-type]
        ctx, rec, _ = context(ScriptedPlanner([turn, [Click(x=10, y=10)], [Click(x=10, y=10)]]))
        ctx.faults = faults
        outcome = run_task("t", ctx)
    assert threading.excepthook is not faults._hook
    assert (outcome.status, outcome.steps) == ("failed", 1)
    assert outcome.reason == "the kill-switch thread failed: ConnectionError: listener lost its connection"
    assert rec.outcome == outcome
    assert "Traceback" not in capsys.readouterr().err


def test_an_x_librarys_error_outside_a_run_is_display_closed_only_when_the_display_is_gone() -> None:
    from Xlib.error import ConnectionClosedError

    from agent.run.endings import display_gone

    assert display_gone(ConnectionClosedError("server"), ":65000")
    assert not display_gone(ValueError("a bug"), ":65000")
    assert not display_gone(ConnectionClosedError("server"), None)
    assert display_gone(BrokenPipeError(32, "Broken pipe"), ":65000")  # Xlib lets the socket's own out
