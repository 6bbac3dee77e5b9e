"""Anthropic computer use: `client.beta.messages.create` with the `computer` tool.

The screenshot is scaled to the tool's display size (the demo's XGA/WXGA/FWXGA targets), the
model's coordinates are mapped back to screen space, refused or failed actions come back as
`tool_result` with `is_error: true`, and only the `keep_screenshots` newest screenshots travel.
Prompt-caching breakpoints sit where the vendor demo puts them (system, last 3 user turns).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from anthropic.types.beta import BetaMessage
from pydantic import ValidationError

from actions.errors import PlannerOutputError
from actions.models import (
    Action,
    Box,
    Click,
    Drag,
    Key,
    Move,
    Point,
    Scroll,
    Type,
    Wait,
    validation_message,
)
from agent.perception.observation import Observation
from agent.perception.scaling import ImageSpace, box_to_screen, screen_to_image
from agent.planners import prompts
from agent.planners.base import HistoryItem, Turn, Usage
from agent.planners.history import Call, Exchange, Transcript, call_answer, step_notes, summarise
from agent.planners.imaging import EncodedImage, zoom
from agent.planners.model_planner import EMPTY_ANSWER, ModelPlanner, PlannerConfig, tool_turn, unusable
from agent.planners.parsing import numbers
from agent.planners.transport import anthropic_client, client_url, unexpected_body

log = logging.getLogger(__name__)

BETAS = {"computer_20241022": "computer-use-2024-10-22", "computer_20250124": "computer-use-2025-01-24",
         "computer_20251124": "computer-use-2025-11-24"}
CACHED_USER_TURNS = 3
MAX_FOLLOW_UPS = 3  # zoom / cursor_position answered at once, within one turn
_BUTTONS = {"left_click": ("left", 1), "right_click": ("right", 1), "middle_click": ("middle", 1),
            "double_click": ("left", 2), "triple_click": ("left", 3)}
_SCROLL = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}


@dataclass
class _Parsed:
    actions: list[Action] = field(default_factory=list)
    coords: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    text: str = ""
    reasoning: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def follow_up(self) -> bool:
        """Only calls the planner can answer itself (zoom, cursor_position)."""
        return bool(self.calls) and not self.actions and all(c.image or c.note.startswith("X=") for c in self.calls)


class AnthropicPlanner(ModelPlanner):
    """Claude with the computer tool (`computer_20250124` or `computer_20251124` per model)."""

    provider = "anthropic"

    def __init__(self, config: PlannerConfig) -> None:
        super().__init__(config)
        self.client = anthropic_client(config.connection, own_retries=True)
        self.tool_version = config.profile.tool_version or "computer_20250124"
        if self.tool_version not in BETAS:
            raise ValueError(f"unknown computer tool {self.tool_version}")
        self.transcript = Transcript(keep=config.keep_screenshots)
        self._cursor: Point | None = None
        self._pressed: list[Point] | None = None

    @property
    def url(self) -> str:
        return client_url(self.client)

    # ------------------------------------------------------------------ turn
    def plan(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn:
        image = self._encode(observation)
        usage, reasks, follow_ups = Usage(), 0, 0
        self.transcript.bind(history)
        while True:
            message, estimate = self._send(task, observation, history, image)
            raw = message.model_dump_json(include={"content", "stop_reason"})
            usage = usage + self._message_usage(message, estimate)
            parsed = self._parse(message, image.space, observation)
            reply = [p for b in message.content if (p := _block_param(b)) is not None]
            if parsed.errors:
                reasks += 1
                if reasks > self.config.max_reasks:
                    raise unusable(self.spec, reasks - 1, parsed.errors[0])
                self._reject(image, reply, parsed, reasks)
                continue
            if parsed.follow_up and follow_ups < MAX_FOLLOW_UPS:
                follow_ups += 1
                self.transcript.add(Exchange(image=image, reply=reply, calls=parsed.calls, step=-1))
                continue
            self.transcript.add(Exchange(image=image, reply=reply, calls=parsed.calls))
            return self._turn(parsed, raw, usage)

    def _turn(self, parsed: _Parsed, raw: str, usage: Usage) -> Turn:
        return tool_turn(parsed, raw, usage, "anthropic_system.j2")

    def _reject(self, image: EncodedImage, reply: list[dict[str, Any]], parsed: _Parsed, attempt: int) -> None:
        error = "; ".join(parsed.errors)
        calls = [Call(call_id=c.call_id, note=c.note if c.is_error else
                      "not performed: another call in this reply was invalid", is_error=True) for c in parsed.calls]
        reask = prompts.render("reask.j2", error=error, attempt=attempt, attempts=self.config.max_reasks)
        if calls:
            calls[-1].note += "\n" + reask
        else:
            calls = [Call(call_id="", note=reask, is_error=True)]
        self.transcript.add(Exchange(image=image, reply=reply, calls=calls, step=-1))

    # ------------------------------------------------------------------ request
    def _tool(self, space: ImageSpace) -> dict[str, Any]:
        tool: dict[str, Any] = {"type": self.tool_version, "name": "computer",
                                "display_width_px": space.width, "display_height_px": space.height}
        if self.tool_version == "computer_20251124":
            tool["enable_zoom"] = True
        return tool

    def build_request(self, task: str, observation: Observation, history: Sequence[HistoryItem],
                      image: EncodedImage) -> tuple[dict[str, Any], list[EncodedImage]]:
        """The keyword arguments of `beta.messages.create`, and the images they carry."""
        window = self.transcript.window(history)
        system = prompts.render("anthropic_system.j2", screen_w=observation.screen.width,
                                screen_h=observation.screen.height, image_w=image.size[0], image_h=image.size[1])
        kept = window.kept
        first = kept[0].image if kept else image
        intro = prompts.render("task.j2", task=task, summary=summarise(window.older))
        messages: list[dict[str, Any]] = [{"role": "user", "content": [_text(intro), _image(first)]}]
        for i, ex in enumerate(kept):
            messages.append({"role": "assistant", "content": ex.reply or [_text("(no answer)")]})
            after = kept[i + 1].image if i + 1 < len(kept) else image
            messages.append({"role": "user", "content": self._results(ex, window.results.get(ex.step) if ex.step is not None else None, after)})
        if observation.notes:
            messages[-1]["content"].append(_text("Note: " + "; ".join(observation.notes)))
        known = {id(i.b64): i for i in [image, *(e.image for e in kept)]}
        known.update({id(c.image.b64): c.image for e in kept for c in e.calls if c.image is not None})
        images = _prune_images(messages, self.config.keep_screenshots, known)
        _cache_breakpoints(messages)
        request = {"model": self.config.model, "max_tokens": self.profile.max_tokens,
                   "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                   "tools": [self._tool(image.space)], "messages": messages, "betas": [BETAS[self.tool_version]]}
        return request, images

    def _results(self, ex: Exchange, item: HistoryItem | None, after: EncodedImage) -> list[dict[str, Any]]:
        """One tool_result per call. A zoom answers with its crop and note only (the tool's
        definition): the screen goes with the last other call, and not at all when it is the very
        image the model already has (a zoom-only follow-up, where nothing was performed)."""
        blocks: list[dict[str, Any]] = []
        tool_calls = [c for c in ex.calls if c.call_id]
        screen_needed = after is not ex.image or not any(c.image is not None for c in tool_calls)
        carrier = next((c for c in reversed(tool_calls) if c.image is None), None) if screen_needed else None
        for call in tool_calls:
            text, is_error = call_answer(call, item)
            content: list[dict[str, Any]] = [_text(text)]
            if call.image is not None:
                content.append(_image(call.image))
            if call is carrier:
                content.append(_image(after))
            blocks.append({"type": "tool_result", "tool_use_id": call.call_id, "content": content,
                           "is_error": is_error})
        loose = [c.note for c in ex.calls if not c.call_id and c.note]
        if carrier is None and screen_needed:
            blocks.append(_image(after))
        blocks.extend(_text(n) for n in loose)
        if notes := step_notes(item):
            blocks.append(_text("Note: " + notes))
        return blocks

    def _send(self, task: str, observation: Observation, history: Sequence[HistoryItem],
              image: EncodedImage) -> tuple[BetaMessage, int]:
        request, images = self.build_request(task, observation, history, image)
        message, estimate = self._call(functools.partial(self.client.beta.messages.create, **request), request, images,
                                       self.url)
        if not isinstance(message, BetaMessage):
            raise unexpected_body(self.provider, self.url, message)
        return message, estimate

    def _message_usage(self, message: BetaMessage, estimate: int) -> Usage:
        u = message.usage
        if u is None:
            return self._usage(None, None, 0, estimate, str(message.content))
        cached = (u.cache_read_input_tokens or 0)
        total_in = u.input_tokens + cached + (u.cache_creation_input_tokens or 0)
        return self._usage(total_in, u.output_tokens, cached, estimate, "")

    # ------------------------------------------------------------------ parsing
    def _parse(self, message: BetaMessage, space: ImageSpace, observation: Observation) -> _Parsed:
        parsed = _Parsed()
        self._check_actions(sum(1 for b in message.content if getattr(b, "type", "") == "tool_use"))
        for block in message.content:
            kind = getattr(block, "type", "")
            if kind == "text":
                parsed.text += getattr(block, "text", "")
            elif kind == "thinking":
                parsed.reasoning += getattr(block, "thinking", "")
            elif kind == "tool_use":
                self._parse_call(block.id, block.name, block.input, space, observation, parsed)  # type: ignore[union-attr]
        if not parsed.calls and message.stop_reason == "max_tokens":
            parsed.errors.append("the answer was cut off (max_tokens); answer with a tool call")
        elif not parsed.calls and not parsed.text.strip():
            parsed.errors.append(EMPTY_ANSWER)
        self._check_actions(len(parsed.actions))
        return parsed

    def _parse_call(self, call_id: str, name: str, data: Any, space: ImageSpace, observation: Observation,
                    parsed: _Parsed) -> None:
        try:
            if name != "computer" or not isinstance(data, dict):
                raise PlannerOutputError(f"unknown tool {name!r}: use the computer tool")
            result = self._action(data, space, observation)
        except PlannerOutputError as e:
            parsed.calls.append(Call(call_id=call_id, note=f"invalid: {e}", is_error=True))
            parsed.errors.append(str(e))
            return
        except ValidationError as e:
            parsed.calls.append(Call(call_id=call_id, note=f"invalid: {validation_message(e)}", is_error=True))
            parsed.errors.append(validation_message(e))
            return
        except (TypeError, ValueError, OverflowError) as e:  # odd JSON types in the input
            message = f"invalid input for {data.get('action')!r}: {e}"[:300] if isinstance(data, dict) else str(e)
            parsed.calls.append(Call(call_id=call_id, note=message, is_error=True))
            parsed.errors.append(message)
            return
        if isinstance(result, Call):
            result.call_id = call_id
            parsed.calls.append(result)
            return
        for action in result:
            parsed.calls.append(Call(call_id=call_id, action_index=len(parsed.actions)))
            parsed.actions.append(action)
            parsed.coords.append(f"{data.get('action')} {data.get('coordinate', '')}@{space.width}x{space.height}")
        if len(result) > 1:  # several key presses from one call: answer once, with the last result
            first = len(parsed.calls) - len(result)
            del parsed.calls[first:-1]

    def _xy(self, space: ImageSpace, value: Any, required: bool) -> Point:
        if value is None and not required:
            if self._cursor is None:
                c = space.region.center
                return Point(x=c.x, y=c.y)
            return self._cursor
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise PlannerOutputError(f"coordinate must be [x, y], got {value!r}")
        return self._point(space, value[0], value[1], "pixels")

    # Over 50 lines: one `match` arm per action of the computer tool, read side by side with its docs.
    def _action(self, data: dict[str, Any], space: ImageSpace, observation: Observation) -> list[Action] | Call:
        """One computer-tool input as actions (screen space), or a Call answered without acting."""
        kind = data.get("action")
        text = data.get("text")
        if text is not None and not isinstance(text, str):
            raise PlannerOutputError(f"text must be a string, got {text!r}"[:200])
        match kind:
            case "key":
                keys = (text or "").split()
                if not keys:
                    raise PlannerOutputError("key needs text, e.g. ctrl+s or Return")
                return [Key(chord=k) for k in keys]
            case "type":
                return [Type(text=text or "")]
            case "mouse_move":
                p = self._xy(space, data.get("coordinate"), True)
                if self._pressed is not None:
                    self._pressed.append(p)
                    self._cursor = p
                    return Call(call_id="", note="ok: pointer moved with the button held")
                self._cursor = p
                return [Move(x=p.x, y=p.y)]
            case "left_click" | "right_click" | "middle_click" | "double_click" | "triple_click":
                button, count = _BUTTONS[kind]
                p = self._xy(space, data.get("coordinate"), False)
                self._cursor = p
                return [Click(x=p.x, y=p.y, button=button, count=count, modifiers=text or ())]  # type: ignore[arg-type]
            case "left_click_drag":
                start = self._xy(space, data.get("start_coordinate"), False)
                end = self._xy(space, data.get("coordinate"), True)
                self._cursor = end
                return [Drag(path=(start, end))]
            case "scroll":
                return [self._scroll(data, space)]
            case "wait":
                duration = numbers(data.get("duration"))
                return [Wait(seconds=min(60.0, max(0.1, duration[0] if duration else 1.0)))]
            case "left_mouse_down":
                self._pressed = [self._cursor or self._xy(space, None, False)]
                return Call(call_id="", note="ok: left button held; move, then left_mouse_up to release")
            case "left_mouse_up":
                return self._release()
            case "hold_key":
                return Call(call_id="", is_error=True, note="hold_key is not supported here: use key with a "
                            "chord, or the text field of a click/scroll for held modifiers")
            case "zoom":
                return self._zoom(data, space, observation)
            case "screenshot":
                return Call(call_id="", note="ok")
            case "cursor_position":
                p = self._cursor or space.region.center
                x, y = screen_to_image(space, p.x, p.y)
                return Call(call_id="", note=f"X={round(x)},Y={round(y)}")
            case _:
                raise PlannerOutputError(f"unknown computer action {kind!r}")

    def _scroll(self, data: dict[str, Any], space: ImageSpace) -> Scroll:
        direction = data.get("scroll_direction")
        if direction not in _SCROLL:
            raise PlannerOutputError(f"scroll_direction must be up, down, left or right, got {direction!r}")
        amount = data.get("scroll_amount", 3)
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise PlannerOutputError(f"scroll_amount must be a whole number, got {amount!r}")
        p = self._xy(space, data.get("coordinate"), False)
        self._cursor = p
        sx, sy = _SCROLL[direction]
        return Scroll(x=p.x, y=p.y, dx=sx * amount, dy=sy * amount, modifiers=data.get("text") or ())

    def _release(self) -> list[Action] | Call:
        path, self._pressed = self._pressed, None
        if not path:
            return Call(call_id="", is_error=True, note="left_mouse_up without left_mouse_down: nothing to release")
        end = self._cursor or path[-1]
        points = [*path, end] if path[-1] != end else path
        if len(points) < 2:
            return [Click(x=points[0].x, y=points[0].y)]
        return [Drag(path=tuple(points))]

    def _zoom(self, data: dict[str, Any], space: ImageSpace, observation: Observation) -> Call:
        """The crop of `region` (image pixels), as the answer to the zoom call. A region off the
        image, of zero size or not four numbers is a tool error naming the region asked for."""
        region = data.get("region")
        if not isinstance(region, (list, tuple)) or len(region) != 4:
            raise PlannerOutputError(f"zoom region must be [x0, y0, x1, y1], got {region!r}")
        try:
            for x, y in ((region[0], region[1]), (region[2], region[3])):
                self._point(space, x, y, "pixels")
        except PlannerOutputError as e:
            raise PlannerOutputError(f"zoom region {list(region)}: {e}") from None
        if float(region[0]) == float(region[2]) or float(region[1]) == float(region[3]):
            raise PlannerOutputError(f"zoom region {list(region)} has zero width or height: give two opposite "
                                     f"corners of the area to look at")
        box: Box = box_to_screen(space, tuple(float(v) for v in region), "pixels")  # type: ignore[arg-type]
        try:
            crop = zoom(observation, box, space.size, self.profile.image_format, self.profile.image_quality)
        except ValueError as e:
            raise PlannerOutputError(f"zoom region {list(region)}: {e}") from None
        return Call(call_id="", note=f"zoomed into {list(region)}", image=crop)


# ---------------------------------------------------------------------- message blocks


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _image(image: EncodedImage) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.b64}}


def _block_param(block: Any) -> dict[str, Any] | None:
    """A response content block as a request parameter (thinking keeps its signature)."""
    match getattr(block, "type", ""):
        case "text":
            return {"type": "text", "text": block.text} if block.text else None
        case "tool_use":
            return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
        case "thinking":
            return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
        case "redacted_thinking":
            return {"type": "redacted_thinking", "data": block.data}
        case _:
            return None


def _image_slots(messages: list[dict[str, Any]]) -> list[tuple[list[dict[str, Any]], int]]:
    """(container, index) of every image block, oldest first (inside tool_results too)."""
    slots: list[tuple[list[dict[str, Any]], int]] = []
    for message in messages:
        if message["role"] != "user":
            continue
        for k, block in enumerate(message["content"]):
            if block.get("type") == "tool_result":
                inner = block["content"]
                slots.extend((inner, j) for j, b in enumerate(inner) if b.get("type") == "image")
            elif block.get("type") == "image":
                slots.append((message["content"], k))
    return slots


def _prune_images(messages: list[dict[str, Any]], keep: int, known: dict[int, EncodedImage]) -> list[EncodedImage]:
    """Replace all but the `keep` newest images by a short text; returns the images that stay."""
    slots = _image_slots(messages)
    cut = max(0, len(slots) - keep)
    for container, k in slots[:cut]:
        container[k] = _text("(older screenshot omitted)")
    return [known[id(c[k]["source"]["data"])] for c, k in slots[cut:]]


def _cache_breakpoints(messages: list[dict[str, Any]]) -> None:
    """cache_control on the last block of the newest user turns (the demo's placement)."""
    users = [m for m in messages if m["role"] == "user"]
    for message in users[-CACHED_USER_TURNS:]:
        message["content"][-1]["cache_control"] = {"type": "ephemeral"}
