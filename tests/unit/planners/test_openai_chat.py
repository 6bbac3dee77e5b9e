"""Chat Completions planner (tools and JSON-in-text; marks and coordinates) via the real openai SDK."""

from __future__ import annotations

import json

import pytest

from actions.errors import PlannerOutputError
from actions.models import Click, Done, Drag, Key, Scroll, Type
from agent.planners.openai_chat import LEGEND_HEAD
from agent.planners.prompts import SCREEN_CLOSE, SCREEN_OPEN
from tests.fakes.model_servers import FakeModelServer, chat_body, chat_tool_call
from tests.unit.planners.conftest import element, observation, performed, planner_for

ELEMENTS = (element(1, (100, 100, 200, 140), "OK"), element(2, (1500, 900, 1700, 960), "Cancel"),
            element(7, (400, 300, 900, 340), "Search", role="entry"))


def test_marks_with_tools_map_to_element_centres(model_server: FakeModelServer) -> None:
    model_server.script(chat_body("I will search.", tool_calls=[
        chat_tool_call("click", {"mark": 7}), chat_tool_call("type", {"text": "cats\n"}),
        chat_tool_call("key", {"chord": "ctrl+a"})]))
    planner = planner_for("openai:gpt-4o", model_server)
    turn = planner.next_turn("search cats", observation(elements=ELEMENTS), [])
    click = turn.actions[0]
    assert isinstance(click, Click) and (click.x, click.y) == (650, 320)
    assert click.target is not None and click.target.mark == 7 and click.target.label == "Search"
    assert turn.actions[1:] == (Type(text="cats\n"), Key(chord="ctrl+a"))
    assert turn.model_coordinates[0] == "mark 7"
    body = model_server.last_json
    names = {t["function"]["name"] for t in body["tools"]}
    assert names == {"click", "move", "drag", "scroll", "type", "key", "wait", "done", "fail"}
    click_tool = next(t for t in body["tools"] if t["function"]["name"] == "click")["function"]["parameters"]
    assert "mark" in click_tool["properties"] and "x" not in click_tool["properties"]
    user = body["messages"][1]["content"]
    [legend] = [p["text"] for p in user if '[7] entry "Search"' in p.get("text", "")]
    assert legend.startswith(f"{LEGEND_HEAD}\n{SCREEN_OPEN}\n") and legend.endswith(f"\n{SCREEN_CLOSE}")
    assert user[-1]["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_unknown_mark_is_reasked_with_error(model_server: FakeModelServer) -> None:
    model_server.script(chat_body(tool_calls=[chat_tool_call("click", {"mark": 99}, id="call_a")]),
                        chat_body(tool_calls=[chat_tool_call("click", {"mark": 2})]))
    planner = planner_for("openai:gpt-4o", model_server)
    turn = planner.next_turn("cancel", observation(elements=ELEMENTS), [])
    assert turn.actions[0] == Click(x=1600, y=930, target=turn.actions[0].target)
    second = model_server.requests[1].json["messages"]
    assert second[-3]["tool_calls"][0]["id"] == "call_a"
    assert second[-2] == {"role": "tool", "tool_call_id": "call_a", "content": "not performed: the answer was rejected"}
    assert "mark 99 does not exist" in second[-1]["content"][0]["text"]
    assert turn.usage.model_calls == 2


def test_qwen_smart_resize_pixels(model_server: FakeModelServer) -> None:
    # 1920x1080 with max_pixels 1280*28*28 -> 1316x728 (smart_resize); (658, 364) is the centre
    model_server.script(chat_body(tool_calls=[chat_tool_call("computer_use",
                                                             {"action": "left_click", "coordinate": [658, 364]})]))
    planner = planner_for("openai:Qwen/Qwen2.5-VL-7B-Instruct", model_server)
    turn = planner.next_turn("t", observation(), [])
    assert turn.actions == (Click(x=960, y=540),)
    tool = next(t for t in model_server.last_json["tools"] if t["function"]["name"] == "click")
    assert "1316x728" in tool["function"]["parameters"]["properties"]["x"]["description"]


def test_internvl_boxes_on_grid_in_text(model_server: FakeModelServer) -> None:
    text = 'Sure! ```json\n{"thought": "the Cancel button", "actions": [{"action": "click", ' \
           '"box": "<box>[[781, 833, 885, 888]]</box>"},]}\n```'
    model_server.script(chat_body(text, usage=False))
    planner = planner_for("openai:OpenGVLab/InternVL2_5-8B", model_server)
    turn = planner.next_turn("cancel", observation(), [])
    click = turn.actions[0]
    assert isinstance(click, Click) and abs(click.x - 1600) <= 2 and abs(click.y - 930) <= 2
    assert turn.reasoning == "the Cancel button"
    assert turn.usage.estimated and turn.usage.input_tokens > 0
    assert "tools" not in model_server.last_json


def test_llava_json_fallback_single_quotes_and_marks(model_server: FakeModelServer) -> None:
    model_server.script(chat_body("Here you go: {'thought': 'press ok', 'actions': [{'action': 'click', 'mark': 1}]}",
                                  usage=False))
    turn = planner_for("openai:llava:13b", model_server).next_turn("ok", observation(elements=ELEMENTS), [])
    assert (turn.actions[0].x, turn.actions[0].y) == (150, 120)


def test_garbage_text_reasks_twice_then_raises(model_server: FakeModelServer) -> None:
    model_server.script(*[chat_body("I cannot see anything, sorry.")] * 3)
    planner = planner_for("openai:llava:13b", model_server)
    with pytest.raises(PlannerOutputError, match="no JSON object"):
        planner.next_turn("ok", observation(elements=ELEMENTS), [])
    assert model_server.calls() == 3


def test_drag_scroll_and_done(model_server: FakeModelServer) -> None:
    model_server.script(chat_body(tool_calls=[chat_tool_call("drag", {"from_mark": 1, "to_mark": 2}),
                                              chat_tool_call("scroll", {"dy": 3}),
                                              chat_tool_call("done", {"summary": "moved"})]))
    planner = planner_for("openai:gpt-4o", model_server)
    turn = planner.next_turn("t", observation(elements=ELEMENTS), [])
    drag, scroll, done = turn.actions
    assert isinstance(drag, Drag) and (drag.path[0].x, drag.path[-1].x) == (150, 1600)
    assert scroll == Scroll(x=960, y=540, dy=3)
    assert done == Done(summary="moved")


def test_results_and_history_travel_back(model_server: FakeModelServer) -> None:
    model_server.script(chat_body(tool_calls=[chat_tool_call("click", {"mark": 1}, id="c1")]),
                        chat_body(tool_calls=[chat_tool_call("done", {"summary": "ok"}, id="c2")]))
    planner = planner_for("openai:gpt-4o", model_server)
    first = planner.next_turn("t", observation(elements=ELEMENTS), [])
    planner.next_turn("t", observation(elements=ELEMENTS, seed=1),
                      [performed(0, first.actions, status="failed", error="window vanished")])
    messages = model_server.last_json["messages"]
    assert messages[2]["role"] == "assistant" and messages[2]["tool_calls"][0]["id"] == "c1"
    assert messages[3] == {"role": "tool", "tool_call_id": "c1", "content": "failed: window vanished"}


def test_bad_tool_arguments_json_is_repaired(model_server: FakeModelServer) -> None:
    model_server.script(chat_body(tool_calls=[chat_tool_call("click", '{"mark": 2,}')]))
    turn = planner_for("openai:gpt-4o", model_server).next_turn("t", observation(elements=ELEMENTS), [])
    assert (turn.actions[0].x, turn.actions[0].y) == (1600, 930)


def test_no_elements_falls_back_to_pixel_coordinates(model_server: FakeModelServer) -> None:
    model_server.script(chat_body(tool_calls=[chat_tool_call("click", {"x": 683, "y": 384})]))
    turn = planner_for("openai:gpt-4o", model_server).next_turn("t", observation(), [])
    click = turn.actions[0]
    assert isinstance(click, Click) and abs(click.x - 960) <= 1 and abs(click.y - 540) <= 1  # image is 1365x768
    assert json.dumps(model_server.last_json).count('"mark"') == 0
