"""Property tests: arbitrary model output never escapes a parser except as PlannerOutputError."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.errors import PlannerOutputError
from actions.models import Box
from agent.perception.scaling import ImageSpace
from agent.planners.grounding import Grounder
from agent.planners.openai_chat import calls_from_payload
from agent.planners.parsing import extract_json
from agent.planners.uitars import parse_and_ground
from tests.unit.planners.conftest import element, observation

OBS = observation(size=(640, 360), elements=(element(1, (10, 10, 50, 30), "OK"), element(5, (100, 100, 200, 150))))
SPACE = ImageSpace.scaled(Box(left=0, top=0, right=640, bottom=360), (448, 252))
GROUNDERS = [Grounder(space=SPACE, observation=OBS, mode="coordinates", convention="pixels"),
             Grounder(space=SPACE, observation=OBS, mode="coordinates", convention="grid1000"),
             Grounder(space=SPACE, observation=OBS, mode="marks")]
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAGMENTS = ["Thought: ", "Action: ", "click(", "left_double(", "drag(", "hotkey(", "type(", "scroll(", "wait()",
             "finished(", "call_user()", "start_box=", "point=", "end_point=", "key=", "content=", "direction=",
             "'", '"', "(", ")", "[", "]", "<point>", "</point>", "<|box_start|>", ",", " ", "\n", "\\", "=",
             "100", "-5", "1e309", "nan", "999999", "0.5", "up", "ctrl c", "\\n"]
uitars_text = st.one_of(st.text(max_size=200),
                        st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.sampled_from(["action", "name", "x", "y", "mark", "box", "text", "chord", "dy", "dx", "direction",
                         "amount", "from_mark", "to_mark", "coordinate", "button", "count", "modifiers", "seconds",
                         "actions", "thought", "arguments", "to_x", "to_y", "status"]) | st.text(max_size=5),
        children, max_size=6),
    max_leaves=20)
action_names = st.sampled_from(["click", "double_click", "right_click", "move", "drag", "scroll", "type", "key",
                                "wait", "done", "fail", "terminate", "hotkey", "left_single", "x"]) | st.text(max_size=8)
JSON_FRAGMENTS = ["{", "}", "[", "]", '"', "'", ":", ",", "action", "click", "mark", "1", "```json\n", "```",
                  "true", "null", " ", "\n", "thought", "actions", "(", ")", "\\"]
json_text = st.one_of(st.text(max_size=200), st.lists(st.sampled_from(JSON_FRAGMENTS), max_size=50).map("".join),
                      json_values.map(lambda v: json.dumps(v)[: max(1, len(json.dumps(v)) - 1)]))


@FAST
@given(uitars_text)
def test_uitars_parser_only_raises_its_own_error(text: str) -> None:
    for grounder in GROUNDERS[:2]:
        try:
            actions = parse_and_ground(text, grounder)
        except PlannerOutputError:
            continue
        assert all(a.kind for a in actions)


@FAST
@given(json_text)
def test_json_fallback_only_raises_its_own_error(text: str) -> None:
    try:
        payload = extract_json(text)
        calls, _ = calls_from_payload(payload)
    except PlannerOutputError:
        return
    for call in calls:
        for grounder in GROUNDERS:
            try:
                grounder.action(call.name, call.args)
            except PlannerOutputError:
                pass


@FAST
@given(action_names, json_values)
def test_tool_call_arguments_only_raise_our_error(name: str, args: Any) -> None:
    for grounder in GROUNDERS:
        try:
            action, _ = grounder.action(name, args)
        except PlannerOutputError:
            continue
        for x, y in [(getattr(action, "x", 0), getattr(action, "y", 0))]:
            assert 0 <= x < 640 and 0 <= y < 360  # every accepted point is on the screen


@FAST
@given(st.dictionaries(st.sampled_from(["action", "coordinate", "start_coordinate", "text", "scroll_direction",
                                        "scroll_amount", "duration", "region"]), json_values, max_size=5),
       st.sampled_from(["left_click", "key", "type", "scroll", "zoom", "left_click_drag", "mouse_move", "wait",
                        "triple_click", "left_mouse_up", "cursor_position", "bogus"]))
def test_anthropic_tool_inputs_never_raise(data: dict[str, Any], action: str) -> None:
    from agent.planners.anthropic import AnthropicPlanner, _Parsed
    planner = _anthropic()
    parsed = _Parsed()
    data = {"action": action, **{k: v for k, v in data.items() if k != "action"}}
    AnthropicPlanner._parse_call(planner, "toolu_x", "computer", data, SPACE, OBS, parsed)
    assert parsed.calls or parsed.errors


@FAST
@given(st.dictionaries(st.sampled_from(["type", "x", "y", "button", "keys", "path", "scroll_x", "scroll_y", "text"]),
                       json_values, max_size=6),
       st.sampled_from(["click", "double_click", "move", "drag", "scroll", "keypress", "type", "wait", "screenshot"]))
def test_cua_actions_never_raise(raw: dict[str, Any], kind: str) -> None:
    from agent.planners.openai_cua import _Parsed
    planner = _cua()
    parsed = _Parsed()
    planner._parse_call({"call_id": "c", "action": {**raw, "type": kind}}, SPACE, parsed)
    assert parsed.calls


_CACHE: dict[str, Any] = {}


def _anthropic() -> Any:
    if "a" not in _CACHE:
        from agent.planners.registry import build_planner
        from agent.settings import Settings
        _CACHE["a"] = build_planner(Settings(model="anthropic:claude-sonnet-4-6", base_url="http://127.0.0.1:9"),
                                    api_key="k")
    return _CACHE["a"]


def _cua() -> Any:
    if "c" not in _CACHE:
        from agent.planners.registry import build_planner
        from agent.settings import Settings
        _CACHE["c"] = build_planner(Settings(model="openai-cua:gpt-5.4", base_url="http://127.0.0.1:9/v1"),
                                    api_key="k")
    return _CACHE["c"]
