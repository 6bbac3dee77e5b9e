"""start_planner: a model planner builds on a worker thread; what the wiring asks first is known
at once, the user's errors come before anything starts, the build's own errors at the first turn."""

from __future__ import annotations

import pytest

from actions.errors import UsageError
from agent.planners.base import Capabilities
from agent.planners.pending import PendingPlanner
from agent.planners.registry import build_planner, start_planner
from agent.settings import Settings
from tests.fakes.model_servers import FakeModelServer, chat_body, chat_tool_call
from tests.unit.planners.conftest import observation


@pytest.mark.parametrize("spec", ["openai-cua:gpt-5.4", "openai:gpt-4o", "openai:Qwen/Qwen2.5-VL-7B-Instruct",
                                  "ui-tars:ui-tars-1.5-7b", "anthropic:claude-sonnet-4-6"])
def test_what_the_wiring_asks_before_the_build_matches_the_built_planner(spec: str) -> None:
    settings = Settings(model=spec, base_url="http://127.0.0.1:9/v1")
    pending = start_planner(settings, api_key="k")
    assert isinstance(pending, PendingPlanner)
    built = build_planner(settings, api_key="k")
    assert (pending.name, pending.model, pending.capabilities) == (built.name, built.model, built.capabilities)
    assert pending.needs_elements == built.needs_elements
    assert type(pending.planner) is type(built)


def test_the_offline_planner_is_built_at_once() -> None:
    planner = start_planner(Settings(model="offline"))
    assert not isinstance(planner, PendingPlanner) and not planner.capabilities.model_calls


@pytest.mark.parametrize("spec, var", [("anthropic:claude-sonnet-4-6", "ANTHROPIC_API_KEY"),
                                       ("openai-cua:gpt-5.4", "OPENAI_API_KEY")])
def test_a_missing_key_is_a_usage_error_before_any_build(monkeypatch: pytest.MonkeyPatch, spec: str,
                                                          var: str) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UsageError, match=var):
        start_planner(Settings(model=spec))


def test_the_builds_error_reaches_the_first_turn() -> None:
    def broken() -> PendingPlanner:
        raise RuntimeError("the SDK failed to import")

    pending = PendingPlanner(broken, "openai", "gpt-4o", Capabilities(elements=True, model_calls=True))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="failed to import"):
        pending.next_turn("t", observation(), [])


def test_turns_go_to_the_built_planner() -> None:
    with FakeModelServer() as server:
        server.script(chat_body(tool_calls=[chat_tool_call("done", {"summary": "ok"})]))
        pending = start_planner(Settings(model="openai:gpt-4o", base_url=server.openai_url), api_key="k")
        turn = pending.next_turn("t", observation(), [])
    assert turn.actions[0].kind == "done" and server.calls() == 1
