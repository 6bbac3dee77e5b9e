"""`--timeout` and the answer bounds through the real SDKs against local servers that stall:
every request and retry stays inside the deadline, oversized answers are refused unread, empty
answers are re-asked then a provider error."""

from __future__ import annotations

import gzip
import json
import re
import time
from typing import Any

import pytest

from actions.errors import BudgetExceeded, PlannerOutputError, ProviderError
from actions.models import Click, Done
from agent import status
from agent.deadline import Deadline
from agent.planners.base import Planner
from agent.planners.registry import build_planner
from agent.settings import Settings
from agent.status import ListStatus
from tests.fakes.model_servers import (
    FakeModelServer,
    Reply,
    anthropic_message,
    chat_body,
    chat_tool_call,
    computer_call,
    error_reply,
    huge_reply,
    never_reply,
    responses_body,
    retry_after_reply,
    text_block,
    tool_use,
)
from tests.unit.planners.conftest import OK_ANTHROPIC, OK_CHAT, OK_RESPONSES, observation, planner_for

SPECS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o", "openai-cua:computer-use-preview"]
OK = {"anthropic": OK_ANTHROPIC, "openai": OK_CHAT, "openai-cua": OK_RESPONSES}
EMPTY = {"anthropic": anthropic_message(), "openai": chat_body(content=""), "openai-cua": responses_body()}


def planner(spec: str, server: FakeModelServer, seconds: float | None, *, retries: int = 4,
            timeout: float = 120.0, **settings: Any) -> tuple[Planner, Deadline]:
    deadline = Deadline(seconds)
    built = planner_for(spec, server, max_retries=retries, timeout=timeout, deadline=deadline, **settings)
    return built, deadline.start()


def turn_error(p: Planner) -> tuple[Exception, float]:
    started = time.monotonic()
    with pytest.raises((ProviderError, BudgetExceeded, PlannerOutputError)) as info:
        p.next_turn("t", observation(), [])
    return info.value, time.monotonic() - started


@pytest.mark.parametrize("spec", SPECS)
def test_a_retry_after_longer_than_what_remains_ends_at_once(model_server: FakeModelServer, spec: str) -> None:
    model_server.script(retry_after_reply(3600))
    p, _ = planner(spec, model_server, 18)
    error, took = turn_error(p)
    assert isinstance(error, ProviderError) and error.exit_code == 4
    assert re.search(r"HTTP 429 from .*: Rate limit reached; the model server asked to retry after 3600 s; "
                     r"1[5-8] s of --timeout remain$", str(error)), str(error)
    assert took < 2 and model_server.calls() == 1 and error.model_calls == 1 and "\n" not in str(error)


def test_without_a_deadline_an_hour_is_still_refused(model_server: FakeModelServer) -> None:
    model_server.script(retry_after_reply(3600))
    error, took = turn_error(planner("openai:gpt-4o", model_server, None)[0])
    assert isinstance(error, ProviderError) and "longer than uiagent waits (120 s)" in str(error) and took < 2


@pytest.mark.parametrize("spec", ["anthropic:claude-haiku-4-5", "openai:gpt-4o"])
def test_a_server_that_never_answers_ends_by_the_deadline(model_server: FakeModelServer, spec: str) -> None:
    model_server.script(never_reply(), never_reply())
    p, deadline = planner(spec, model_server, 1.5)
    error, took = turn_error(p)
    assert isinstance(error, BudgetExceeded) and error.exit_code == 3
    assert "timed out after 1.5 s (--timeout): no answer from" in str(error)
    assert 1.3 < took < 2.5 and deadline.expired()
    assert model_server.calls() == 1 and error.model_calls == 1  # the one that never came back is counted


def test_a_short_request_timeout_is_retried_while_the_deadline_holds(model_server: FakeModelServer) -> None:
    model_server.script(never_reply(), OK["openai"])
    p, _ = planner("openai:gpt-4o", model_server, 10, timeout=0.3)
    assert p.next_turn("t", observation(), []).actions[0].kind == "click"
    assert [r.retry_count for r in model_server.requests] == [0, 1]


def test_retry_after_two_seconds_is_honoured_with_a_countdown(model_server: FakeModelServer) -> None:
    model_server.script(Reply(status=429, headers={"retry-after": "1"}, body={"error": {"message": "slow down"}}),
                        OK["openai"])
    p, _ = planner("openai:gpt-4o", model_server, 20)
    with status.use(ListStatus()) as sink:
        started = time.monotonic()
        turn = p.next_turn("t", observation(), [])
        took = time.monotonic() - started
    assert turn.actions and 1.0 <= took < 3 and model_server.calls() == 2
    waits = [(text, until) for text, until in sink.shown if "retrying in" in text]
    assert waits and waits[0][0] == "openai:gpt-4o: HTTP 429, retrying in {left} (1 of 4)"
    assert waits[0][1] is not None and waits[0][1] - started == pytest.approx(1.0, abs=0.5)
    assert sink.texts[0] == "openai:gpt-4o: thinking..." and "openai:gpt-4o: thinking... (retry 1 of 4)" in sink.texts


@pytest.mark.parametrize("status_code", [500, 529])
def test_server_errors_are_retried_then_a_provider_error(model_server: FakeModelServer, status_code: int) -> None:
    model_server.script(*[error_reply(status_code, "overloaded")] * 3)
    error, _ = turn_error(planner("anthropic:claude-haiku-4-5", model_server, 30, retries=2)[0])
    assert isinstance(error, ProviderError) and f"HTTP {status_code}" in str(error) and model_server.calls() == 3
    assert error.model_calls == 3


def test_a_backoff_that_would_pass_the_deadline_is_not_waited(model_server: FakeModelServer) -> None:
    model_server.script(error_reply(500, "boom", retry_after_ms=None), OK["anthropic"])
    p, _ = planner("anthropic:claude-haiku-4-5", model_server, 0.3)
    error, took = turn_error(p)
    assert isinstance(error, ProviderError) and "HTTP 500" in str(error) and "the next retry is in" in str(error)
    assert took < 0.5 and model_server.calls() == 1


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_a_100_mb_answer_is_refused_after_its_first_megabyte(model_server: FakeModelServer, declared: bool) -> None:
    model_server.script(huge_reply(100_000_000, declared=declared))
    error, took = turn_error(planner("anthropic:claude-haiku-4-5", model_server, 20)[0])
    assert isinstance(error, ProviderError) and error.exit_code == 4
    assert "is larger than 1 MB" in str(error) and "max_answer_bytes" in str(error) and len(str(error)) < 400
    assert took < 3 and model_server.calls() == 1  # not retried


def test_a_compressed_answer_is_bounded_by_its_decoded_size(model_server: FakeModelServer) -> None:
    body = json.dumps(anthropic_message(text_block("x" * 50_000_000))).encode()
    bomb = gzip.compress(body, compresslevel=9)   # ~50 KB on the wire, 50 MB decoded
    assert len(bomb) < 200_000
    model_server.script(Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    error, took = turn_error(planner("anthropic:claude-haiku-4-5", model_server, 20)[0])
    assert isinstance(error, ProviderError) and "is larger than 1 MB" in str(error), error
    assert took < 3 and model_server.calls() == 1


def test_a_small_compressed_answer_is_read_and_a_twice_encoded_one_refused(model_server: FakeModelServer) -> None:
    good = gzip.compress(json.dumps(OK["anthropic"]).encode())
    twice = gzip.compress(good)
    model_server.script(Reply(body=good, headers={"Content-Encoding": "gzip"}),
                        Reply(body=twice, headers={"Content-Encoding": "gzip, gzip"}))
    p = planner("anthropic:claude-haiku-4-5", model_server, 20)[0]
    assert p.next_turn("t", observation(), []).actions
    error, _ = turn_error(p)
    assert isinstance(error, ProviderError) and "encoded as gzip, gzip, refused unread" in str(error)


def test_the_answer_bound_is_a_setting(model_server: FakeModelServer) -> None:
    model_server.script(anthropic_message(text_block("y" * 5000)), anthropic_message(text_block("y" * 5000)))
    with pytest.raises(ProviderError, match="larger than 4,000 bytes"):
        planner("anthropic:claude-haiku-4-5", model_server, 20, max_answer_bytes=4000)[0].next_turn(
            "t", observation(), [])
    turn = planner("anthropic:claude-haiku-4-5", model_server, 20, max_answer_bytes=20_000)[0].next_turn(
        "t", observation(), [])
    assert isinstance(turn.actions[0], Done)


@pytest.mark.parametrize("spec, answer", [
    ("anthropic:claude-haiku-4-5", anthropic_message(*[tool_use("left_click", coordinate=[10, 10])] * 21)),
    ("openai:gpt-4o", chat_body(tool_calls=[chat_tool_call("click", {"x": 10, "y": 10})] * 21)),
    ("openai-cua:computer-use-preview",
     responses_body(computer_call(actions=[{"type": "click", "button": "left", "x": 5, "y": 5}] * 21))),
])
def test_too_many_actions_in_one_answer_are_refused(model_server: FakeModelServer, spec: str, answer: dict) -> None:
    model_server.script(answer)
    error, _ = turn_error(planner(spec, model_server, 20)[0])
    assert isinstance(error, ProviderError) and "holds 21 actions, more than 20 in one turn" in str(error)
    assert "max_actions_per_turn" in str(error)


def test_twenty_actions_still_go_through(model_server: FakeModelServer) -> None:
    model_server.script(anthropic_message(*[tool_use("left_click", coordinate=[10, 10])] * 20))
    turn = planner("anthropic:claude-haiku-4-5", model_server, 20)[0].next_turn("t", observation(), [])
    assert len(turn.actions) == 20 and all(isinstance(a, Click) for a in turn.actions)


@pytest.mark.parametrize("spec", SPECS + ["ui-tars:ui-tars-1.5-7b"])
def test_empty_answers_are_re_asked_then_a_provider_error(model_server: FakeModelServer, spec: str) -> None:
    provider = spec.split(":")[0]
    model_server.script(*[EMPTY.get(provider, EMPTY["openai"])] * 3)
    error, _ = turn_error(planner(spec, model_server, 20)[0])
    assert isinstance(error, ProviderError) and error.exit_code == 4
    assert "empty answers after 2 re-asks (the answer was empty: no text and no tool call)" in str(error)
    assert model_server.calls() == 3 and error.model_calls == 3


def test_an_empty_answer_is_not_done_and_the_next_one_counts(model_server: FakeModelServer) -> None:
    model_server.script(EMPTY["anthropic"], OK["anthropic"])
    turn = planner("anthropic:claude-haiku-4-5", model_server, 20)[0].next_turn("t", observation(), [])
    assert isinstance(turn.actions[0], Click) and turn.usage.model_calls == 2
    reask = str(model_server.last_json["messages"][-1])
    assert "the answer was empty" in reask


def test_a_cassette_never_stores_an_answer_over_the_bound(model_server: FakeModelServer, tmp_path) -> None:
    from agent.planners.cassette import CASSETTE_FILE, CassetteRecorder

    model_server.script(huge_reply(100_000_000))
    tape = CassetteRecorder(max_bytes=1_000_000)
    tape.attach(tmp_path)
    deadline = Deadline(20)
    p = build_planner(Settings(model="anthropic:claude-haiku-4-5", base_url=model_server.url), api_key="k",
                      max_retries=2, deadline=deadline.start(), transport=tape)
    error, took = turn_error(p)
    assert isinstance(error, ProviderError) and "larger than 1 MB" in str(error) and took < 3
    stored = tmp_path / CASSETTE_FILE
    assert not stored.exists() or stored.stat().st_size < 10_000
