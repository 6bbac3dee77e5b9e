"""What the live status line shows when: the rich sink's drawing, and the statuses the planners
(real SDKs against the local fake server), the retry waits (agent.planners.retry) and the loop's waits feed it."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from actions.models import Done, Wait
from agent import status
from agent.cli.output import StepPrinter
from agent.cli.status import RichStatus
from agent.planners.scripted import ScriptedPlanner
from agent.status import ListStatus
from tests.fakes.model_servers import (
    FakeModelServer,
    Reply,
    chat_body,
    chat_tool_call,
    model_server,
    responses_body,
)
from tests.fakes.model_servers import output_message as cua_text
from tests.unit.planners.conftest import observation, planner_for
from tests.unit.run.test_loop import context

__all__ = ["model_server"]  # the fixture, for the tests below


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_shows_the_elapsed_seconds_or_the_countdown_in_place_of_left() -> None:
    clock = Clock()
    sink = RichStatus(Console(file=io.StringIO()), clock=clock)
    sink.show("openai-cua:gpt-5.4: thinking...")
    clock.now += 3.24
    assert sink.line() == "openai-cua:gpt-5.4: thinking... 3.2s"
    sink.show("retrying in {left} (HTTP 429)", until=clock.now + 2)
    clock.now += 0.5
    assert sink.line() == "retrying in 2s (HTTP 429)"
    sink.show("waiting", until=clock.now + 0.2)
    clock.now += 1
    assert sink.line() == "waiting 0s"   # past its end: never a negative count
    sink.clear()
    assert sink.line() == ""


def test_the_line_is_drawn_on_a_terminal_and_erased_by_clear() -> None:
    out = io.StringIO()
    sink = RichStatus(Console(file=out, force_terminal=True, width=100))
    sink.show("starting: display :9 (1280x800), planner offline:steps")
    sink.clear()
    drawn = out.getvalue()
    assert "starting: display :9 (1280x800)" in drawn
    assert drawn.rstrip("\x1b[?25h").endswith("\x1b[2K")  # the last thing written erases the line


def test_task_text_is_never_read_as_markup() -> None:
    out = io.StringIO()
    sink = RichStatus(Console(file=out, force_terminal=True, width=100))
    sink.show("click [bold]File[/bold]")
    sink.clear()
    assert "[bold]File[/bold]" in out.getvalue()


def test_a_model_call_shows_thinking_until_it_returns(model_server: FakeModelServer) -> None:
    model_server.script(responses_body(cua_text("nothing to do"), model="gpt-5.4"))
    sink = ListStatus()
    with status.use(sink):
        planner_for("openai-cua:gpt-5.4", model_server).next_turn("t", observation(), [])
        shown_during_call, cleared_after = sink.texts, sink.cleared
    assert shown_during_call == ["openai-cua:gpt-5.4: thinking..."]
    assert cleared_after == 1


@pytest.mark.parametrize("spec, ok", [
    ("openai:gpt-4o", chat_body(tool_calls=[chat_tool_call("done", {"summary": "ok"})])),
    ("anthropic:claude-haiku-4-5", {"id": "m", "type": "message", "role": "assistant", "model": "x",
                                    "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                                    "usage": {"input_tokens": 1, "output_tokens": 1}})])
def test_a_retry_wait_shows_its_cause_and_countdown(model_server: FakeModelServer, spec: str,
                                                           ok: dict) -> None:
    model_server.script(Reply(status=429, headers={"retry-after-ms": "300"},
                              body={"error": {"type": "rate_limit", "message": "slow down"}}), ok)
    sink = ListStatus()
    planner = planner_for(spec, model_server, max_retries=1)
    with status.use(sink):
        planner.next_turn("t", observation(), [])
    assert model_server.calls() == 2
    refused = model_server.requests[0].received
    retry = [(text, until) for text, until in sink.shown if "retrying in" in text]
    assert [text for text, _ in retry] == [f"{spec}: HTTP 429, retrying in {{left}} (1 of 1)"]
    until = retry[0][1]
    assert until is not None and 0.25 <= until - refused <= 1.0   # the server's retry-after-ms, counted down


def test_a_wait_counts_down_and_is_cleared_before_the_step_is_printed() -> None:
    sink = ListStatus()
    ctx, _, _ = context(ScriptedPlanner([[Wait(seconds=0.2)], [Done(summary="ok")]]))
    events: list[str] = []
    ctx.on_step = lambda step: events.append(f"step {step.index} after {sink.cleared} clears")
    with status.use(sink):
        before = time.monotonic()
        from agent.run.loop import run_task
        assert run_task("t", ctx).status == "done"
    assert sink.texts == ["wait {left}"]
    until = sink.shown[0][1]
    assert until is not None and 0.15 <= until - before <= 1.0
    assert events[0] == "step 1 after 1 clears"   # the wait's line went before step 1 was handed on


def test_every_line_the_step_printer_prints_clears_the_status_first() -> None:
    sink = ListStatus()
    printer = StepPrinter()
    printer.console = Console(file=io.StringIO())
    with status.use(sink):
        printer.intro("task: t")
        printer.note("a note")
        assert sink.cleared == 2
