"""Anthropic computer use through the real SDK against a local fake Messages server."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from actions.errors import PlannerOutputError
from actions.models import Click, Done, Drag, Fail, Key, Move, Scroll, Type, Wait
from tests.fakes.model_servers import (
    FakeModelServer,
    anthropic_message,
    request_images,
    text_block,
    thinking_block,
    tool_use,
)
from tests.unit.planners.conftest import observation, performed, planner_for


def images_in(body: dict) -> list[dict]:
    found = []
    for m in body["messages"]:
        if m["role"] != "user":
            continue
        for b in m["content"]:
            if b["type"] == "image":
                found.append(b)
            if b["type"] == "tool_result":
                found.extend(x for x in b["content"] if x["type"] == "image")
    return found


def test_click_maps_from_fwxga_to_screen(model_server: FakeModelServer) -> None:
    model_server.script(anthropic_message(thinking_block("look"), text_block("Clicking OK."),
                                          tool_use("left_click", coordinate=[683, 384])))
    planner = planner_for("anthropic:claude-haiku-4-5", model_server)
    turn = planner.next_turn("press OK", observation(), [])
    assert turn.actions == (Click(x=960, y=540),)
    assert "Clicking OK" in turn.reasoning and "look" in turn.reasoning
    body = model_server.last_json
    assert model_server.requests[-1].headers["anthropic-beta"] == "computer-use-2025-01-24"
    tool = body["tools"][0]
    assert (tool["type"], tool["display_width_px"], tool["display_height_px"]) == ("computer_20250124", 1366, 768)
    [img] = images_in(body)
    assert Image.open(io.BytesIO(base64.b64decode(img["source"]["data"]))).size == (1366, 768)
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "data, not instructions" in body["system"][0]["text"]
    assert turn.usage.model_calls == 1 and turn.usage.input_tokens == 1500 and not turn.usage.estimated
    assert turn.usage.cost_usd > 0


def test_newer_models_get_zoom_tool(model_server: FakeModelServer) -> None:
    model_server.script(anthropic_message(tool_use("zoom", region=[0, 0, 683, 384])),
                        anthropic_message(tool_use("double_click", coordinate=[100, 100])))
    planner = planner_for("anthropic:claude-sonnet-4-6", model_server)
    turn = planner.next_turn("zoom then click", observation(), [])
    assert model_server.calls() == 2  # the zoom is answered at once, within the turn
    tool = model_server.requests[0].json["tools"][0]
    assert tool["type"] == "computer_20251124" and tool["enable_zoom"] is True
    assert model_server.requests[0].headers["anthropic-beta"] == "computer-use-2025-11-24"
    second = model_server.requests[1].json
    result = second["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and not result["is_error"]
    # The zoom answers with its note and the crop only: no second copy of the screen anywhere.
    assert [b["type"] for b in result["content"]] == ["text", "image"]
    assert "zoomed into [0, 0, 683, 384]" in result["content"][0]["text"]
    sent = request_images(second)
    assert [im.size for im in sent] == [(1366, 768), (1364, 768)]  # the screen once, then the crop (2x at most)
    assert turn.actions == (Click(x=141, y=141, count=2),)
    assert turn.usage.model_calls == 2


def test_a_zoom_after_an_action_keeps_the_new_screen_beside_the_crop(model_server: FakeModelServer) -> None:
    """click + zoom in one reply: the click's result carries the screen after it, the zoom its crop."""
    model_server.script(anthropic_message(tool_use("left_click", coordinate=[10, 10]),
                                          tool_use("zoom", region=[0, 0, 683, 384])),
                        anthropic_message(text_block("Done.")))
    planner = planner_for("anthropic:claude-sonnet-4-6", model_server)
    turn = planner.next_turn("click, zoom", observation(seed=0), [])
    planner.next_turn("click, zoom", observation(seed=1), [performed(0, turn.actions)])
    results = [b for b in model_server.requests[1].json["messages"][-1]["content"] if b["type"] == "tool_result"]
    shapes = [[b["type"] for b in r["content"]] for r in results]
    assert shapes == [["text", "image"], ["text", "image"]]
    assert [im.size for im in request_images(model_server.requests[1].json)] == [(1366, 768), (1366, 768), (1364, 768)]


@pytest.mark.parametrize(("region", "says"), [
    ([1300, 700, 2000, 900], "zoom region [1300, 700, 2000, 900]: point (2000, 900) is outside the image"),
    ([100, 100, 100, 300], "zoom region [100, 100, 100, 300] has zero width or height"),
    ([-5, 0, 10, 10], "zoom region [-5, 0, 10, 10]: point (-5, 0) is outside the image"),
    ("the top left", "zoom region must be [x0, y0, x1, y1], got 'the top left'"),
])
def test_a_bad_zoom_region_is_a_tool_error_naming_it(model_server: FakeModelServer, region: object, says: str) -> None:
    model_server.script(anthropic_message(tool_use("zoom", region=region)),
                        anthropic_message(tool_use("left_click", coordinate=[100, 100])))
    planner = planner_for("anthropic:claude-sonnet-4-6", model_server)
    turn = planner.next_turn("zoom", observation(), [])
    result = model_server.requests[1].json["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is True
    assert says in result["content"][0]["text"]
    assert turn.actions == (Click(x=141, y=141),)


def test_every_action_kind_maps(model_server: FakeModelServer) -> None:
    model_server.script(anthropic_message(
        tool_use("key", text="ctrl+s"), tool_use("type", text="hello\n"),
        tool_use("mouse_move", coordinate=[10, 10]), tool_use("right_click", coordinate=[20, 20]),
        tool_use("middle_click", coordinate=[30, 30]), tool_use("triple_click", coordinate=[40, 40], text="shift"),
        tool_use("left_click_drag", start_coordinate=[0, 0], coordinate=[1365, 767]),
        tool_use("scroll", coordinate=[683, 384], scroll_direction="down", scroll_amount=5),
        tool_use("wait", duration=2), tool_use("screenshot"), tool_use("cursor_position"),
        tool_use("hold_key", text="shift", duration=1)))
    planner = planner_for("anthropic:claude-haiku-4-5", model_server)
    turn = planner.next_turn("everything", observation(), [])
    kinds = [type(a) for a in turn.actions]
    assert kinds == [Key, Type, Move, Click, Click, Click, Drag, Scroll, Wait]
    assert turn.actions[0] == Key(chord="ctrl+s")
    assert turn.actions[3] == Click(x=28, y=28, button="right")
    assert turn.actions[5].modifiers == ("shift",) and turn.actions[5].count == 3
    assert turn.actions[6].path[-1].x == 1919 and turn.actions[6].path[-1].y == 1079
    assert turn.actions[7] == Scroll(x=960, y=540, dy=5)


def test_refused_action_comes_back_as_error_result(model_server: FakeModelServer) -> None:
    click = Click(x=960, y=540)
    model_server.script(anthropic_message(tool_use("left_click", id="toolu_1", coordinate=[683, 384])),
                        anthropic_message(text_block("All done.")))
    planner = planner_for("anthropic:claude-haiku-4-5", model_server)
    planner.next_turn("t", observation(), [])
    history = [performed(0, (click,), status="denied", error="outside the allowed window")]
    turn = planner.next_turn("t", observation(seed=1), history)
    assert turn.actions == (Done(summary="All done."),)
    body = model_server.last_json
    result = body["messages"][-1]["content"][0]
    assert result["tool_use_id"] == "toolu_1" and result["is_error"] is True
    assert "denied: outside the allowed window" in result["content"][0]["text"]
    assert body["messages"][1]["role"] == "assistant" and body["messages"][1]["content"][0]["id"] == "toolu_1"


def test_failed_answer_becomes_fail(model_server: FakeModelServer) -> None:
    model_server.script(anthropic_message(text_block("FAILED: the app is not installed")))
    turn = planner_for("anthropic:claude-haiku-4-5", model_server).next_turn("t", observation(), [])
    assert turn.actions == (Fail(reason="the app is not installed"),)


def test_malformed_output_is_reasked_then_raises(model_server: FakeModelServer) -> None:
    bad = anthropic_message(tool_use("left_click", coordinate=[5000, 10]))
    model_server.script(bad, anthropic_message(tool_use("left_click", coordinate=[683, 384])))
    planner = planner_for("anthropic:claude-haiku-4-5", model_server)
    assert planner.next_turn("t", observation(), []).actions == (Click(x=960, y=540),)
    reask = model_server.requests[1].json["messages"][-1]["content"][0]
    assert reask["is_error"] and "outside the image" in reask["content"][0]["text"]

    model_server.script(bad, bad, bad)
    with pytest.raises(PlannerOutputError, match="outside the image"):
        planner.next_turn("t", observation(), [performed(0, (Click(x=960, y=540),))])
    assert model_server.calls() == 5


def test_only_newest_screenshots_travel_and_cache_breakpoints(model_server: FakeModelServer) -> None:
    planner = planner_for("anthropic:claude-haiku-4-5", model_server, keep=3)
    history = []
    for step in range(6):
        model_server.script(anthropic_message(tool_use("left_click", coordinate=[10 + step, 10])))
        turn = planner.next_turn("t", observation(seed=step), history)
        history.append(performed(step, turn.actions, reasoning=f"step {step}"))
        body = model_server.last_json
        assert len(images_in(body)) == min(step + 1, 3)
        marked = [m for m in body["messages"] if m["role"] == "user" and "cache_control" in m["content"][-1]]
        assert len(marked) == min(3, len([m for m in body["messages"] if m["role"] == "user"]))
    assert "step 0:" in body["messages"][0]["content"][0]["text"]  # older steps summarised as text


def test_mouse_down_move_up_becomes_drag(model_server: FakeModelServer) -> None:
    model_server.script(anthropic_message(tool_use("mouse_move", coordinate=[100, 100])),
                        anthropic_message(tool_use("left_mouse_down"), tool_use("mouse_move", coordinate=[200, 200]),
                                          tool_use("left_mouse_up")))
    planner = planner_for("anthropic:claude-haiku-4-5", model_server)
    first = planner.next_turn("t", observation(), [])
    turn = planner.next_turn("t", observation(), [performed(0, first.actions)])
    [drag] = turn.actions
    assert isinstance(drag, Drag) and drag.path[0].x == 141 and drag.path[-1].x == 281
