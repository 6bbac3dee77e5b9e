"""Error injection through the real SDKs: retries, then one ProviderError line; nothing executed."""

from __future__ import annotations

import socket

import pytest

from actions.errors import BudgetExceeded, ProviderError
from actions.models import Click
from tests.fakes.model_servers import (
    FakeModelServer,
    Reply,
    chat_body,
    chat_tool_call,
    error_reply,
    html_reply,
    slow_reply,
    truncated_json_reply,
)
from tests.unit.planners.conftest import (
    OK_ANTHROPIC,
    OK_CHAT,
    OK_RESPONSES,
    element,
    observation,
    planner_for,
)


@pytest.mark.parametrize("status", [429, 500, 529])
def test_anthropic_retries_then_succeeds(model_server: FakeModelServer, status: int) -> None:
    model_server.script(error_reply(status, "overloaded"), error_reply(status, "overloaded"), OK_ANTHROPIC)
    planner = planner_for("anthropic:claude-haiku-4-5", model_server, max_retries=2)
    turn = planner.next_turn("t", observation(), [])
    assert turn.actions == (Click(x=960, y=540),)
    assert [r.retry_count for r in model_server.requests] == [0, 1, 2]


def test_anthropic_gives_up_with_provider_error(model_server: FakeModelServer) -> None:
    model_server.script(*[error_reply(529, "Overloaded", error_type="overloaded_error")] * 3)
    planner = planner_for("anthropic:claude-haiku-4-5", model_server, max_retries=2)
    with pytest.raises(ProviderError) as info:
        planner.next_turn("t", observation(), [])
    message = str(info.value)
    assert "anthropic" in message and "HTTP 529" in message and "Overloaded" in message
    assert model_server.url in message and info.value.exit_code == 4
    assert model_server.calls() == 3


@pytest.mark.parametrize("spec, ok", [("openai:gpt-4o", OK_CHAT), ("openai-cua:computer-use-preview", OK_RESPONSES)])
def test_openai_429_with_retry_after_then_ok(model_server: FakeModelServer, spec: str, ok: dict) -> None:
    model_server.script(Reply(status=429, headers={"retry-after": "0", "retry-after-ms": "5"},
                              body={"error": {"message": "Rate limit reached", "type": "requests"}}), ok)
    turn = planner_for(spec, model_server, max_retries=1).next_turn("t", observation(), [])
    assert len(turn.actions) == 1 and model_server.calls() == 2


def test_401_names_the_key(model_server: FakeModelServer) -> None:
    model_server.script(error_reply(401, "invalid x-api-key", retry_after_ms=None))
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY"):
        planner_for("anthropic:claude-haiku-4-5", model_server).next_turn("t", observation(), [])


def test_timeout_is_a_provider_error(model_server: FakeModelServer) -> None:
    model_server.script(slow_reply(OK_CHAT, 1.0), slow_reply(OK_CHAT, 1.0))
    planner = planner_for("openai:gpt-4o", model_server, timeout=0.2, max_retries=1)
    with pytest.raises(ProviderError, match="no answer from .* within 0.2 s"):
        planner.next_turn("t", observation(), [])
    assert model_server.calls() == 2


@pytest.mark.parametrize("spec", ["anthropic:claude-haiku-4-5", "openai:gpt-4o", "openai-cua:computer-use-preview"])
def test_truncated_json_is_a_provider_error(model_server: FakeModelServer, spec: str) -> None:
    model_server.script(truncated_json_reply(OK_CHAT))
    with pytest.raises(ProviderError, match="invalid JSON|bad response"):
        planner_for(spec, model_server).next_turn("t", observation(), [])


@pytest.mark.parametrize("spec", ["anthropic:claude-haiku-4-5", "openai:gpt-4o", "openai-cua:computer-use-preview",
                                  "ui-tars:ui-tars-1.5-7b"])
@pytest.mark.parametrize("status", [200, 404])
def test_html_body_is_one_clear_line(model_server: FakeModelServer, spec: str, status: int) -> None:
    model_server.script(html_reply(status))
    with pytest.raises(ProviderError, match="answered HTML") as info:
        planner_for(spec, model_server).next_turn("t", observation(), [])
    assert "--base-url" in str(info.value) and "\n" not in str(info.value)


def test_unreachable_port(model_server: FakeModelServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model_server.stop()
    from agent.planners.registry import build_planner
    from agent.settings import Settings
    planner = build_planner(Settings(model="openai:gpt-4o", base_url=f"http://127.0.0.1:{port}/v1"),
                            max_retries=1, request_timeout=2)
    with pytest.raises(ProviderError, match=f"cannot reach http://127.0.0.1:{port}/v1"):
        planner.next_turn("t", observation(), [])


def test_budget_stops_before_the_call(model_server: FakeModelServer) -> None:
    planner = planner_for("anthropic:claude-haiku-4-5", model_server, max_cost=0.0005)
    with pytest.raises(BudgetExceeded, match="max-cost"):
        planner.next_turn("t", observation(), [])
    assert model_server.calls() == 0


def test_budget_allows_then_stops(model_server: FakeModelServer) -> None:
    # Haiku: $1/M in, $5/M out; one call of 1500 in + 80 out = $0.0019; the estimate is ~$0.0024
    model_server.script(OK_ANTHROPIC, OK_ANTHROPIC, OK_ANTHROPIC)
    planner = planner_for("anthropic:claude-haiku-4-5", model_server, max_cost=0.005)
    planner.next_turn("t", observation(), [])
    with pytest.raises(BudgetExceeded):
        for _ in range(3):
            planner.next_turn("t", observation(), [])
    assert 1 <= model_server.calls() <= 2


def test_usage_estimated_when_server_reports_none(model_server: FakeModelServer) -> None:
    model_server.script(chat_body(tool_calls=[chat_tool_call("click", {"mark": 1})], usage=False))
    planner = planner_for("openai:gpt-4o", model_server)
    turn = planner.next_turn("t", observation(elements=(element(1, (0, 0, 10, 10)),)), [])
    assert turn.usage.estimated
    assert turn.usage.input_tokens >= 1105  # one 1365x768 image at high detail is 1105 tokens
    assert turn.usage.cost_usd > 0


def test_an_openai_run_never_imports_the_anthropic_sdk_nor_the_other_way_round() -> None:
    """Each SDK costs its import (anthropic ~1.7 s here): the chosen provider's planner loads only its own."""
    import subprocess
    import sys

    probe = ("import sys; import agent.planners.{mod}, agent.planners.model_planner, agent.planners.transport; "
             "print('anthropic' in sys.modules, 'openai' in sys.modules)")
    seen = {mod: subprocess.run([sys.executable, "-c", probe.format(mod=mod)], capture_output=True, text=True,
                                check=True).stdout.split()
            for mod in ("openai_cua", "openai_chat", "uitars", "anthropic")}
    assert seen == {"openai_cua": ["False", "True"], "openai_chat": ["False", "True"], "uitars": ["False", "True"],
                    "anthropic": ["True", "False"]}
