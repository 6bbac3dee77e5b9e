"""OpenAI computer use (Responses API, preview and GA) via the real openai SDK."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from actions.errors import PlannerOutputError, SafetyCheckDeclined
from actions.models import Click, Done, Drag, Key, Move, Scroll, Type, Wait
from agent.planners.model_planner import SafetyCheck
from tests.fakes.model_servers import (
    FakeModelServer,
    computer_call,
    output_message,
    reasoning_item,
    responses_body,
)
from tests.unit.planners.conftest import observation, performed, planner_for


def test_preview_click_and_chaining(model_server: FakeModelServer) -> None:
    model_server.script(
        responses_body(reasoning_item("The OK button is in the middle."),
                       computer_call({"type": "click", "button": "left", "x": 683, "y": 384}, call_id="call_1"),
                       id="resp_1"),
        responses_body(output_message("Done: pressed OK."), id="resp_2"))
    planner = planner_for("openai-cua:computer-use-preview", model_server)
    turn = planner.next_turn("press OK", observation(), [])
    assert turn.actions == (Click(x=960, y=540),)
    assert "middle" in turn.reasoning
    first = model_server.requests[0].json
    assert first["tools"] == [{"type": "computer_use_preview", "display_width": 1366, "display_height": 768,
                               "environment": "linux"}]
    assert first["truncation"] == "auto" and first["reasoning"] == {"summary": "concise"}
    assert first["input"][0]["content"][1]["type"] == "input_image"

    turn = planner.next_turn("press OK", observation(seed=1), [performed(0, turn.actions)])
    assert turn.actions == (Done(summary="Done: pressed OK."),)
    second = model_server.requests[1].json
    assert second["previous_response_id"] == "resp_1"
    [output] = second["input"]
    assert output["type"] == "computer_call_output" and output["call_id"] == "call_1"
    assert output["output"]["image_url"].startswith("data:image/jpeg;base64,")


def test_ga_batch_maps_every_action(model_server: FakeModelServer) -> None:
    model_server.script(responses_body(computer_call(actions=[
        {"type": "move", "x": 0, "y": 0},
        {"type": "double_click", "x": 683, "y": 384, "keys": ["CTRL"]},
        {"type": "click", "button": "wheel", "x": 10, "y": 10},
        {"type": "click", "button": "back", "x": 10, "y": 10},
        {"type": "drag", "path": [{"x": 0, "y": 0}, {"x": 683, "y": 384}]},
        {"type": "scroll", "x": 683, "y": 384, "scroll_x": 0, "scroll_y": 300},
        {"type": "keypress", "keys": ["CTRL", "S"]},
        {"type": "type", "text": "hi"}, {"type": "wait"}, {"type": "screenshot"}]), model="gpt-5.4"))
    planner = planner_for("openai-cua:gpt-5.4", model_server)
    turn = planner.next_turn("t", observation(), [])
    assert model_server.last_json["tools"] == [{"type": "computer"}]
    kinds = [type(a) for a in turn.actions]
    assert kinds == [Move, Click, Click, Key, Drag, Scroll, Key, Type, Wait]
    assert turn.actions[1] == Click(x=960, y=540, count=2, modifiers=("ctrl",))
    assert turn.actions[2].button == "middle"
    assert turn.actions[3] == Key(chord="alt+left")
    assert turn.actions[5] == Scroll(x=960, y=540, dy=3)
    assert turn.actions[6] == Key(chord="ctrl+s")


def test_failed_action_is_reported_in_next_input(model_server: FakeModelServer) -> None:
    model_server.script(responses_body(computer_call({"type": "type", "text": "rm -rf /"}, call_id="c1")),
                        responses_body(output_message("FAILED: not allowed")))
    planner = planner_for("openai-cua:computer-use-preview", model_server)
    turn = planner.next_turn("t", observation(), [])
    turn = planner.next_turn("t", observation(), [performed(0, turn.actions, status="denied", error="deny pattern")])
    assert turn.actions[0].kind == "fail"
    note = model_server.last_json["input"][-1]
    assert note["role"] == "user" and "deny pattern" in note["content"][0]["text"]


def test_safety_checks_need_confirmation(model_server: FakeModelServer) -> None:
    check = {"id": "sc_1", "code": "malicious_instructions", "message": "Suspicious text on screen"}
    call = computer_call({"type": "click", "button": "left", "x": 1, "y": 1}, safety_checks=(check,), call_id="c9")
    model_server.script(responses_body(call))
    with pytest.raises(SafetyCheckDeclined, match="Suspicious text"):
        planner_for("openai-cua:computer-use-preview", model_server).next_turn("t", observation(), [])

    seen: list[Sequence[SafetyCheck]] = []

    def confirm(checks: Sequence[SafetyCheck]) -> bool:
        seen.append(checks)
        return True

    model_server.script(responses_body(call), responses_body(output_message("ok")))
    planner = planner_for("openai-cua:computer-use-preview", model_server, confirm=confirm)
    turn = planner.next_turn("t", observation(), [])
    assert seen[0][0].code == "malicious_instructions"
    planner.next_turn("t", observation(), [performed(0, turn.actions)])
    output = model_server.last_json["input"][0]
    assert output["acknowledged_safety_checks"] == [check]


def test_invalid_point_reasks_with_screenshot_output(model_server: FakeModelServer) -> None:
    bad = responses_body(computer_call({"type": "click", "button": "left", "x": 9999, "y": 1}, call_id="c1"), id="r1")
    model_server.script(bad, responses_body(computer_call({"type": "click", "button": "left", "x": 1, "y": 1})))
    turn = planner_for("openai-cua:computer-use-preview", model_server).next_turn("t", observation(), [])
    assert turn.actions == (Click(x=1, y=1),)
    second = model_server.requests[1].json
    assert second["previous_response_id"] == "r1"
    assert second["input"][0]["call_id"] == "c1" and "outside the image" in second["input"][-1]["content"][0]["text"]

    model_server.script(bad, bad, bad)
    with pytest.raises(PlannerOutputError):
        planner_for("openai-cua:computer-use-preview", model_server).next_turn("t", observation(), [])
