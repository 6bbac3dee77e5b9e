"""UI-TARS: our own action-string parser, and the planner via the real openai SDK."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from actions.errors import PlannerOutputError
from actions.models import Click, Done, Drag, Fail, Key, Scroll, Type, Wait
from agent.perception.scaling import ImageSpace
from agent.planners.grounding import Grounder
from agent.planners.uitars import parse_and_ground, parse_uitars
from tests.fakes.model_servers import FakeModelServer, chat_body
from tests.unit.planners.conftest import observation, planner_for

OBS = observation()


def grounder(convention: str = "pixels") -> Grounder:
    from actions.models import Box
    space = ImageSpace.scaled(Box(left=0, top=0, right=1920, bottom=1080), (1932, 1092))
    return Grounder(space=space, observation=OBS, mode="coordinates", convention=convention)  # type: ignore[arg-type]


def test_parser_reads_thought_and_calls() -> None:
    thought, calls = parse_uitars("Thought: I see the button.\nAction: click(start_box='(960,540)')")
    assert thought == "I see the button." and calls == [("click", {"start_box": "(960,540)"})]


@pytest.mark.parametrize("text, expected", [
    ("Action: click(start_box='(960,540)')", Click(x=954, y=534)),
    ("Action: click(point='<point>960 540</point>')", Click(x=954, y=534)),
    ("Action: click(start_box='<|box_start|>(960,540)<|box_end|>')", Click(x=954, y=534)),
    ("Action: left_double(start_box='[950, 530, 970, 550]')", Click(x=954, y=534, count=2)),
    ("Action: right_single(point='<point>0 0</point>')", Click(x=0, y=0, button="right")),
    ("Action: hotkey(key='ctrl c')", Key(chord="ctrl+c")),
    ("Action: type(content='hello\\n')", Type(text="hello\n")),
    ("Action: type(content='it's fine')", Type(text="it's fine")),
    ("Action: scroll(point='<point>960 540</point>', direction='down')", Scroll(x=954, y=534, dy=5)),
    ("Action: wait()", Wait(seconds=5)),
    ("Action: finished(content='all set')", Done(summary="all set")),
    ("Action: call_user()", Fail(reason="the model asked for the user's help")),
])
def test_actions_map_to_screen(text: str, expected: object) -> None:
    assert parse_and_ground(text, grounder()) == [expected]


def test_drag_and_grid_v1() -> None:
    [drag] = parse_and_ground("Action: drag(start_point='<point>0 0</point>', end_point='<point>1932 1092</point>')",
                              grounder())
    assert isinstance(drag, Drag) and drag.path[-1].x == 1919
    assert parse_and_ground("Action: click(start_box='(500,500)')", grounder("grid1000")) == [Click(x=960, y=540)]


def test_out_of_image_point_is_rejected() -> None:
    with pytest.raises(PlannerOutputError, match="outside the image"):
        parse_and_ground("Action: click(start_box='(5000,540)')", grounder())


def test_planner_smart_resized_pixels(model_server: FakeModelServer) -> None:
    """1920x1080 smart-resizes to 1932x1092: the screen is sent at its own scale, padded black."""
    model_server.script(chat_body("Thought: Click the centre.\nAction: click(start_box='(960,540)')", usage=False),
                        chat_body("Thought: The corner.\nAction: click(start_box='(1930,1090)')", usage=False))
    planner = planner_for("ui-tars:ui-tars-1.5-7b", model_server)
    turn = planner.next_turn("centre", observation(), [])
    assert turn.actions == (Click(x=960, y=540),) and turn.reasoning == "Click the centre."
    body = model_server.last_json
    first = body["messages"][0]
    assert first["role"] == "user" and "## Action Space" in first["content"][0]["text"]
    assert "tools" not in body
    url = next(p["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
               for p in m["content"] if p["type"] == "image_url")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (1932, 1092) and max(sent.getpixel((1925, 1085))) < 16  # the padding is black
    turn = planner.next_turn("corner", observation(), [])
    assert turn.actions == (Click(x=1919, y=1079),)  # a point in the padding clamps to the screen


def test_planner_scales_to_a_smart_size_smaller_than_the_screen(model_server: FakeModelServer) -> None:
    model_server.script(chat_body("Thought: Centre.\nAction: click(start_box='(686,378)')", usage=False))
    planner = planner_for("ui-tars:ui-tars-1.5-7b", model_server)
    turn = planner.next_turn("centre", observation(size=(1366, 768)), [])  # smart size 1372x756: scaled
    assert turn.actions == (Click(x=683, y=384),)


def test_planner_reasks_on_garbage(model_server: FakeModelServer) -> None:
    model_server.script(chat_body("no idea"), chat_body("Thought: ok\nAction: finished(content='done')"))
    turn = planner_for("ui-tars:ui-tars-1.5-7b", model_server).next_turn("t", observation(), [])
    assert turn.actions == (Done(summary="done"),)
    assert "Action:" in model_server.last_json["messages"][-1]["content"][0]["text"]
