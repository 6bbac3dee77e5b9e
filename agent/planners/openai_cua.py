"""OpenAI computer use on the Responses API: `computer_use_preview` and the GA `computer` tool.

Turns chain with `previous_response_id` (the server keeps the conversation; `truncation: "auto"`
drops its oldest items), so each request carries only the new screenshot. Reasoning summaries
become Turn.reasoning. `pending_safety_checks` go to the confirmation callback; they are
acknowledged only when a human confirms, otherwise the run stops with `SafetyCheckDeclined`.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from openai.types.responses import Response

from actions.errors import PlannerOutputError, SafetyCheckDeclined
from actions.models import Action, Click, Drag, Key, Move, Point, Scroll, Type, Wait
from agent.perception.observation import Observation
from agent.perception.scaling import ImageSpace
from agent.planners import prompts
from agent.planners.base import HistoryItem, Turn, Usage
from agent.planners.grounding import modifiers_arg
from agent.planners.history import Call, Exchange, Transcript, result_text, step_notes, summarise
from agent.planners.imaging import EncodedImage
from agent.planners.model_planner import (
    EMPTY_ANSWER,
    ModelPlanner,
    PlannerConfig,
    SafetyCheck,
    tool_turn,
    unusable,
)
from agent.planners.transport import client_url, openai_client, unexpected_body

log = logging.getLogger(__name__)

SCROLL_PX_PER_CLICK = 100  # CUA scrolls in pixels; the desktop scrolls in wheel clicks
_BUTTONS = {"left": "left", "right": "right", "wheel": "middle", "middle": "middle"}
_NAV_KEYS = {"back": "alt+left", "forward": "alt+right"}


@dataclass
class _Parsed:
    actions: list[Action] = field(default_factory=list)
    coords: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    acks: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    reasoning: str = ""
    text: str = ""
    errors: list[str] = field(default_factory=list)


class OpenAICUAPlanner(ModelPlanner):
    """computer-use-preview (one `action` per call) or the GA `computer` tool (`actions` batches)."""

    provider = "openai-cua"

    def __init__(self, config: PlannerConfig) -> None:
        super().__init__(config)
        self.client = openai_client(config.connection, own_retries=True)
        self.client.responses  # the SDK imports this API's module on first use: now, on start_planner's thread
        self.preview = config.profile.cua_tool == "computer_use_preview"
        self.transcript = Transcript(keep=1)
        self.previous_id: str | None = None
        self._acks: dict[str, list[dict[str, str]]] = {}
        self._reask: str = ""

    @property
    def url(self) -> str:
        return client_url(self.client)

    def _tool(self, space: ImageSpace) -> dict[str, Any]:
        if self.preview:
            return {"type": "computer_use_preview", "display_width": space.width, "display_height": space.height,
                    "environment": "linux"}
        return {"type": "computer"}

    # ------------------------------------------------------------------ turn
    def plan(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn:
        image = self._encode(observation)
        usage = Usage()
        for attempt in range(self.config.max_reasks + 1):
            request = self.build_request(task, observation, history, image)
            response, estimate = self._call(functools.partial(self.client.responses.create, **request), request, [image],
                                            self.url)
            if not isinstance(response, Response):
                raise unexpected_body(self.provider, self.url, response)
            raw = response.model_dump_json(include={"id", "output"})
            usage = usage + self._response_usage(response, estimate, raw)
            self.previous_id = response.id
            parsed = self._parse(response, image.space)
            self.transcript.add(Exchange(image=image, reply=response.id, calls=parsed.calls,
                                         step=-1 if parsed.errors else None))
            if not parsed.errors:
                self._reask = ""
                self._confirm(parsed.acks)
                return self._turn(parsed, raw, usage)
            if attempt == self.config.max_reasks:
                raise unusable(self.spec, attempt, parsed.errors[0])
            self._reask = prompts.render("reask.j2", error="; ".join(parsed.errors), attempt=attempt + 1,
                                         attempts=self.config.max_reasks)
        raise AssertionError("unreachable")

    def _confirm(self, acks: dict[str, list[dict[str, str]]]) -> None:
        checks = [SafetyCheck(id=c["id"], code=c.get("code", ""), message=c.get("message", ""))
                  for found in acks.values() for c in found]
        if checks:
            if not self.config.confirm_safety(checks):
                summary = "; ".join(c.message or c.code or c.id for c in checks)
                raise SafetyCheckDeclined(f"{self.spec}: safety check not confirmed: {summary}")
            self._acks.update(acks)

    def _turn(self, parsed: _Parsed, raw: str, usage: Usage) -> Turn:
        return tool_turn(parsed, raw, usage, "openai_cua_system.j2")

    # ------------------------------------------------------------------ request
    def build_request(self, task: str, observation: Observation, history: Sequence[HistoryItem],
                      image: EncodedImage) -> dict[str, Any]:
        """The keyword arguments of `responses.create`."""
        instructions = prompts.render("openai_cua_system.j2", screen_w=observation.screen.width,
                                      screen_h=observation.screen.height, image_w=image.size[0],
                                      image_h=image.size[1])
        request: dict[str, Any] = {"model": self.config.model, "tools": [self._tool(image.space)],
                                   "instructions": instructions, "truncation": "auto",
                                   "reasoning": {"summary": "concise"}}
        notes = list(observation.notes)
        if self.previous_id is None:
            intro = prompts.render("task.j2", task=task, summary=summarise(history))
            request["input"] = [{"role": "user", "content": [
                {"type": "input_text", "text": intro}, {"type": "input_image", "image_url": image.data_url}]}]
        else:
            request["previous_response_id"] = self.previous_id
            outputs, problems = self._outputs(history, image)
            request["input"] = outputs
            notes = problems + notes
        if self._reask:
            notes.append(self._reask)
        if notes:
            request["input"].append({"role": "user", "content": [{"type": "input_text", "text": "\n".join(notes)}]})
        return request

    def _outputs(self, history: Sequence[HistoryItem], image: EncodedImage) -> tuple[list[dict[str, Any]], list[str]]:
        """A computer_call_output (new screenshot) per open call, and lines about failed actions."""
        window = self.transcript.window(history)
        outputs: list[dict[str, Any]] = []
        problems: list[str] = []
        for ex in window.kept[-1:]:
            item = window.results.get(ex.step) if ex.step is not None and ex.step >= 0 else None
            for call_id in dict.fromkeys(c.call_id for c in ex.calls if c.call_id):
                output: dict[str, Any] = {"type": "computer_call_output", "call_id": call_id,
                                          "output": {"type": "computer_screenshot", "image_url": image.data_url}}
                if call_id in self._acks:
                    output["acknowledged_safety_checks"] = self._acks.pop(call_id)
                outputs.append(output)
            if item is not None:
                for action, result in zip(item.actions, item.results, strict=False):
                    text, bad = result_text(result)
                    if bad:
                        problems.append(f"The action '{action.describe()}' was not done: {text}")
                if notes := step_notes(item):
                    problems.append("Note: " + notes)
        return outputs, problems

    def _response_usage(self, response: Response, estimate: int, raw: str) -> Usage:
        u = response.usage
        if u is None:
            return self._usage(None, None, 0, estimate, raw)
        cached = getattr(u.input_tokens_details, "cached_tokens", 0) or 0
        return self._usage(u.input_tokens, u.output_tokens, cached, estimate, "")

    # ------------------------------------------------------------------ parsing
    def _parse(self, response: Response, space: ImageSpace) -> _Parsed:
        parsed = _Parsed()
        for item in response.output:
            data = item.model_dump()
            kind = data.get("type")
            if kind == "reasoning":
                parsed.reasoning += "\n".join(s.get("text", "") for s in data.get("summary") or [])
            elif kind == "message":
                parsed.text += "".join(c.get("text", "") for c in data.get("content") or [] if isinstance(c, dict))
            elif kind == "computer_call":
                self._parse_call(data, space, parsed)
        if not parsed.calls and not parsed.text.strip():
            parsed.errors.append(EMPTY_ANSWER)
        self._check_actions(len(parsed.actions))
        return parsed

    def _parse_call(self, data: dict[str, Any], space: ImageSpace, parsed: _Parsed) -> None:
        call_id = str(data.get("call_id") or data.get("id") or "")
        checks = [c for c in data.get("pending_safety_checks") or [] if isinstance(c, dict) and c.get("id")]
        if checks:
            parsed.acks[call_id] = [{k: str(v) for k, v in c.items() if v is not None} for c in checks]
        batch = data.get("actions") if data.get("actions") is not None else [data.get("action")]
        if not isinstance(batch, list):
            batch = [batch]
        parsed.calls.append(Call(call_id=call_id, action_index=len(parsed.actions) if batch else None,
                                 note="ok"))
        for raw in batch:
            try:
                action = self._action(raw, space)
            except PlannerOutputError as e:
                parsed.errors.append(str(e))
                continue
            except (ValueError, TypeError, OverflowError) as e:  # pydantic validation, odd JSON types
                parsed.errors.append(f"invalid action {raw!r}: {str(e).splitlines()[0]}"[:300])
                continue
            if action is not None:
                parsed.actions.append(action)
                parsed.coords.append(f"{raw}@{space.width}x{space.height}")
        if parsed.calls[-1].action_index == len(parsed.actions):
            parsed.calls[-1].action_index = None  # only screenshots: nothing to report back

    def _xy(self, space: ImageSpace, raw: dict[str, Any]) -> Point:
        return self._point(space, raw.get("x"), raw.get("y"), "pixels")

    def _action(self, raw: Any, space: ImageSpace) -> Action | None:
        if not isinstance(raw, dict):
            raise PlannerOutputError(f"a computer action must be an object, got {raw!r}"[:200])
        keys = modifiers_arg(raw.get("keys"))
        match raw.get("type"):
            case "click":
                button = str(raw.get("button") or "left")
                if button in _NAV_KEYS:
                    return Key(chord=_NAV_KEYS[button])
                if button not in _BUTTONS:
                    raise PlannerOutputError(f"unknown mouse button {button!r}")
                p = self._xy(space, raw)
                return Click(x=p.x, y=p.y, button=_BUTTONS[button], modifiers=keys)  # type: ignore[arg-type]
            case "double_click":
                p = self._xy(space, raw)
                return Click(x=p.x, y=p.y, count=2, modifiers=keys)
            case "move":
                p = self._xy(space, raw)
                return Move(x=p.x, y=p.y, modifiers=keys)
            case "drag":
                path = raw.get("path")
                if not isinstance(path, list) or len(path) < 2 or not all(isinstance(q, dict) for q in path):
                    raise PlannerOutputError("drag needs a path of at least two {x, y} points")
                return Drag(path=tuple(self._xy(space, q) for q in path), modifiers=keys)
            case "scroll":
                p = self._xy(space, raw)
                return Scroll(x=p.x, y=p.y, dx=_clicks(raw.get("scroll_x")), dy=_clicks(raw.get("scroll_y")),
                              modifiers=keys)
            case "keypress":
                if not keys:
                    raise PlannerOutputError("keypress needs keys, e.g. ['CTRL', 'S']")
                return Key(chord="+".join(keys))
            case "type":
                return Type(text=str(raw.get("text") or ""))
            case "wait":
                return Wait(seconds=2.0)
            case "screenshot":
                return None
            case other:
                raise PlannerOutputError(f"unknown computer action {other!r}")


def _clicks(pixels: Any) -> int:
    """Scroll pixels to wheel clicks (at least one click for any non-zero amount)."""
    if isinstance(pixels, bool) or not isinstance(pixels, (int, float)) or not math.isfinite(pixels):
        return 0
    if pixels == 0:
        return 0
    clicks = max(1, round(abs(pixels) / SCROLL_PX_PER_CLICK))
    return int(min(clicks, 100) * (1 if pixels > 0 else -1))
