"""A request's size stays bounded however long the run: step 50 vs step 5."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.model_servers import (
    FakeModelServer,
    RecordedRequest,
    anthropic_message,
    chat_body,
    chat_tool_call,
    computer_call,
    responses_body,
    tool_use,
)
from tests.unit.planners.conftest import element, observation, performed, planner_for

ELEMENTS = tuple(element(i, (20 + 40 * i, 20, 50 + 40 * i, 40), f"item {i}") for i in range(20))


def policy(request: RecordedRequest) -> dict[str, Any]:
    if request.path == "/v1/messages":
        return anthropic_message(text_block_reasoning(), tool_use("left_click", coordinate=[100, 100]))
    if request.path == "/v1/responses":
        return responses_body(computer_call({"type": "click", "button": "left", "x": 100, "y": 100}))
    if "ui-tars" in (request.json or {}).get("model", ""):
        return chat_body("Thought: clicking the item to make progress.\nAction: click(start_box='(100,100)')")
    return chat_body("Clicking the item.", tool_calls=[chat_tool_call("click", {"mark": 3})])


def text_block_reasoning() -> dict[str, Any]:
    return {"type": "text", "text": "I will click the item to make progress on the task."}


@pytest.mark.parametrize("spec", ["anthropic:claude-sonnet-4-6", "openai:gpt-4o", "ui-tars:ui-tars-1.5-7b",
                                  "openai-cua:gpt-5.4"])
def test_request_at_step_50_is_within_1_2x_of_step_5(model_server: FakeModelServer, spec: str) -> None:
    model_server.policy = policy
    planner = planner_for(spec, model_server)
    history = []
    sizes = []
    for step in range(50):
        turn = planner.next_turn("open every item in turn and check it", observation(
            size=(1280, 800), elements=ELEMENTS, seed=step % 2), history)
        history.append(performed(step, turn.actions, reasoning=turn.reasoning))
        sizes.append(len(model_server.requests[-1].body))
    ratio = sizes[49] / sizes[4]
    assert ratio <= 1.2, f"{spec}: step 5 {sizes[4]} bytes, step 50 {sizes[49]} bytes ({ratio:.2f}x)"
    assert max(sizes[5:]) <= 1.2 * sizes[4]
