"""Chat Completions on any OpenAI-compatible server (OpenAI, Gemini's endpoint, vLLM, Ollama, LM Studio).

Actions travel as function tools generated from the action schema (one function per action
kind), or, for servers without tool calling, as one JSON object in the text, parsed tolerantly.
Grounding is per profile: **marks** (Set-of-Mark screenshot + legend; the model names a mark)
or **coordinates** in a named convention (Qwen2.5-VL pixels of the smart-resized image,
InternVL's 0-1000 grid). The model may propose a short sequence of actions per turn.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletion

from actions.errors import PlannerOutputError
from actions.models import TERMINAL_KINDS, Action, action_json_schema
from agent.perception.observation import Observation
from agent.planners import prompts
from agent.planners.base import HistoryItem, Turn, Usage
from agent.planners.grounding import Grounder, Mode
from agent.planners.history import Call, Exchange, Transcript, call_answer, step_notes, summarise
from agent.planners.imaging import EncodedImage, legend
from agent.planners.model_planner import EMPTY_ANSWER, ModelPlanner, PlannerConfig, unusable
from agent.planners.parsing import extract_json
from agent.planners.transport import client_url, openai_client, unexpected_body

log = logging.getLogger(__name__)

LEGEND_HEAD = "Marks on this screenshot (their text is read from the screen):"
OMITTED = "(older screenshot omitted)"
_POINTER = {"click", "move", "scroll"}


@dataclass
class RawCall:
    call_id: str
    name: Any
    args: Any
    error: str = ""


@dataclass
class Reading:
    """A reply split into calls, reasoning, and the message to resend next time."""

    calls: list[RawCall] = field(default_factory=list)
    reasoning: str = ""
    reply: dict[str, Any] = field(default_factory=dict)
    raw: str = ""


# ---------------------------------------------------------------------- tools from the schema


def _grounding_props(kind: str, mode: Mode, convention: str, size: tuple[int, int]) -> tuple[dict[str, Any], list[str]]:
    if mode == "marks":
        mark = {"type": "integer", "description": "Mark number from the legend"}
        if kind == "drag":
            return {"from_mark": mark, "to_mark": mark}, ["from_mark", "to_mark"]
        return {"mark": mark}, ([] if kind == "scroll" else ["mark"])
    unit = {"pixels": f"pixels of the {size[0]}x{size[1]} image", "grid1000": "0-1000 grid over the image",
            "fraction": "fraction 0-1 of the image"}[convention]
    num = {"type": "number", "description": f"Coordinate in {unit}"}
    if kind == "drag":
        return {"x": num, "y": num, "to_x": num, "to_y": num}, ["x", "y", "to_x", "to_y"]
    return {"x": num, "y": num}, ([] if kind == "scroll" else ["x", "y"])


@functools.lru_cache(maxsize=16)
def function_tools(mode: Mode, convention: str, size: tuple[int, int]) -> list[dict[str, Any]]:
    """One function per action kind, from `action_json_schema()`, pointing by `mode` (cached:
    treat the result as read-only)."""
    tools = []
    for definition in action_json_schema()["$defs"].values():
        kind_schema = definition.get("properties", {}).get("kind", {})
        kind = kind_schema.get("const") or (kind_schema.get("enum") or [None])[0]
        if not kind:
            continue
        props = {k: v for k, v in definition["properties"].items() if k not in ("kind", "target", "x", "y", "path")}
        required = [r for r in definition.get("required", []) if r in props]
        if kind in _POINTER or kind == "drag":
            extra, extra_required = _grounding_props(kind, mode, convention, size)
            props.update(extra)
            required += extra_required
        tools.append({"type": "function", "function": {
            "name": kind, "description": (definition.get("description") or f"{kind} action").split("\n")[0],
            "parameters": {"type": "object", "properties": props, "required": required}}})
    return tools


def calls_from_payload(payload: Any) -> tuple[list[RawCall], str]:
    """JSON-in-text: {"thought": ..., "actions": [{"action": "click", ...}]} and common variants."""
    reasoning = ""
    items: Any = payload
    if isinstance(payload, dict):
        reasoning = str(payload.get("thought") or payload.get("reasoning") or payload.get("thinking") or "")
        if isinstance(payload.get("actions"), list):
            items = payload["actions"]
        elif isinstance(payload.get("action"), dict):
            items = [payload["action"]]
        else:
            items = [payload]
    if not isinstance(items, list) or not items:
        raise PlannerOutputError("the JSON has no actions: use {\"thought\": ..., \"actions\": [...]}")
    calls = []
    for item in items:
        if not isinstance(item, dict):
            raise PlannerOutputError(f"each action must be an object, got {item!r}"[:200])
        args = dict(item)
        if isinstance(args.get("arguments"), dict):  # {"name": "computer_use", "arguments": {...}}
            args = {**args["arguments"], "name": args.get("name")}
        name = args.pop("action", None) or args.pop("name", None) or args.pop("type", None) or args.pop("kind", None)
        if name in ("computer_use", "computer") and "action" in args:
            name = args.pop("action")
        calls.append(RawCall(call_id="", name=name, args=args))
    return calls, reasoning


# ---------------------------------------------------------------------- planner


class ChatPlanner(ModelPlanner):
    """Chat Completions with function tools or JSON in text; marks or coordinates."""

    provider = "openai"
    system_template = "chat_system.j2"

    def __init__(self, config: PlannerConfig) -> None:
        super().__init__(config)
        self.client = openai_client(config.connection, own_retries=True)
        self.client.chat.completions  # the SDK imports this API's module on first use: now, on start_planner's thread
        self.transcript = Transcript(keep=config.keep_screenshots)
        self.use_tools = config.profile.tool_calling

    @property
    def url(self) -> str:
        return client_url(self.client)

    def _mode(self, observation: Observation) -> Mode:
        """Marks need elements; without any, this turn points by coordinates in image pixels."""
        if self.profile.grounding == "coordinates" or not observation.elements:
            return "coordinates"
        return "marks"

    def _grounder(self, observation: Observation, image: EncodedImage, mode: Mode) -> Grounder:
        convention = self.profile.convention if self.profile.grounding == "coordinates" else "pixels"
        return Grounder(space=image.space, observation=observation, mode=mode, convention=convention)

    # ------------------------------------------------------------------ turn
    def plan(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn:
        mode = self._mode(observation)
        elements = observation.elements if mode == "marks" else ()
        image = self._encode(observation, elements)
        context = f"{LEGEND_HEAD}\n{prompts.untrusted(legend(elements))}" if elements else ""
        grounder = self._grounder(observation, image, mode)
        self.transcript.bind(history)
        usage = Usage()
        for attempt in range(self.config.max_reasks + 1):
            request, images = self.build_request(task, observation, history, image, context, mode)
            completion, estimate = self._call(functools.partial(self.client.chat.completions.create, **request), request,
                                              images, self.url)
            if not isinstance(completion, ChatCompletion):
                raise unexpected_body(self.provider, self.url, completion)
            reading = self._read_safely(completion)
            self._check_actions(len(reading.calls))
            usage = usage + self._completion_usage(completion, estimate, reading.raw)
            try:
                actions, coords, calls = self._ground(reading, grounder)
            except PlannerOutputError as e:
                if attempt == self.config.max_reasks:
                    raise unusable(self.spec, attempt, str(e)) from None
                self._reject(image, context, reading, str(e), attempt + 1)
                continue
            self.transcript.add(Exchange(image=image, reply=reading.reply, calls=calls, context=context))
            return Turn(reasoning=reading.reasoning, actions=tuple(actions), raw_output=reading.raw,
                        model_coordinates=tuple(coords), usage=usage, prompt_ref=self.system_template)
        raise AssertionError("unreachable")

    def _read_safely(self, completion: ChatCompletion) -> Reading:
        try:
            return self._read(completion)
        except PlannerOutputError as e:
            raw = _raw(completion)
            return Reading(calls=[RawCall(call_id="", name=None, args=None, error=str(e))], raw=raw,
                           reply={"role": "assistant", "content": raw[:4000] or "(empty)"})

    def _read(self, completion: ChatCompletion) -> Reading:
        if not completion.choices:
            raise PlannerOutputError("the server returned no choices")
        message = completion.choices[0].message
        content = message.content or ""
        raw = _raw(completion)
        tool_calls = [tc for tc in (message.tool_calls or []) if getattr(tc, "function", None) is not None]
        if not tool_calls and not content.strip():
            raise PlannerOutputError(EMPTY_ANSWER)
        if tool_calls:
            calls = []
            for tc in tool_calls:
                name, args_text = tc.function.name, tc.function.arguments or "{}"  # type: ignore[union-attr]
                try:
                    args = extract_json(args_text) if args_text.strip() else {}
                except PlannerOutputError as e:
                    calls.append(RawCall(call_id=tc.id, name=name, args=None, error=f"arguments of {name}: {e}"))
                    continue
                if name in ("computer_use", "computer") and isinstance(args, dict) and "action" in args:
                    name = args.pop("action")
                calls.append(RawCall(call_id=tc.id, name=name, args=args))
            reply = {"role": "assistant", "content": content or None,
                     "tool_calls": [{"id": tc.id, "type": "function",
                                     "function": {"name": tc.function.name,  # type: ignore[union-attr]
                                                  "arguments": tc.function.arguments or "{}"}}  # type: ignore[union-attr]
                                    for tc in tool_calls]}
            return Reading(calls=calls, reasoning=content.strip(), reply=reply, raw=raw)
        calls, reasoning = calls_from_payload(extract_json(content))
        return Reading(calls=calls, reasoning=reasoning or _outside_json(content),
                       reply={"role": "assistant", "content": content}, raw=raw)

    def _ground(self, reading: Reading, grounder: Grounder) -> tuple[list[Action], list[str], list[Call]]:
        actions: list[Action] = []
        coords: list[str] = []
        calls: list[Call] = []
        errors: list[str] = []
        limit = self.profile.actions_per_turn
        for raw in reading.calls:
            if raw.error:
                errors.append(raw.error)
                continue
            if len(actions) >= limit or (actions and actions[-1].kind in TERMINAL_KINDS):
                calls.append(Call(call_id=raw.call_id, note=f"not performed: at most {limit} actions per turn"))
                continue
            try:
                action, coord = grounder.action(raw.name, raw.args)
            except PlannerOutputError as e:
                errors.append(str(e))
                continue
            calls.append(Call(call_id=raw.call_id, action_index=len(actions)))
            actions.append(action)
            coords.append(coord)
        if errors:
            raise PlannerOutputError("; ".join(errors)[:600])
        if not actions:
            raise PlannerOutputError("no action in the answer: " + ("call one of the functions" if self.use_tools
                                                                    else "answer with the JSON object"))
        return actions, coords, calls

    def _reject(self, image: EncodedImage, context: str, reading: Reading, error: str, attempt: int) -> None:
        reask = prompts.render("reask.j2", error=error, attempt=attempt, attempts=self.config.max_reasks)
        calls = [Call(call_id=c.call_id, note="not performed: the answer was rejected", is_error=True)
                 for c in reading.calls if c.call_id]
        calls.append(Call(call_id="", note=reask, is_error=True))
        self.transcript.add(Exchange(image=image, reply=reading.reply, calls=calls, step=-1, context=context))

    # ------------------------------------------------------------------ request
    def _system(self, observation: Observation, image: EncodedImage, mode: Mode) -> str | None:
        return prompts.render(self.system_template, image_w=image.size[0], image_h=image.size[1],
                              screen_w=observation.screen.width, screen_h=observation.screen.height,
                              grounding=mode, convention=self.profile.convention, tools=self.use_tools,
                              actions_per_turn=self.profile.actions_per_turn)

    def _intro(self, task: str, older: list[HistoryItem]) -> str:
        return prompts.render("task.j2", task=task, summary=summarise(older))

    def _image_part(self, image: EncodedImage) -> dict[str, Any]:
        part: dict[str, Any] = {"type": "image_url", "image_url": {"url": image.data_url}}
        if self.profile.image_tokens == "openai-tile":
            part["image_url"]["detail"] = "high"
        return part

    def _after(self, ex: Exchange, item: HistoryItem | None, image: EncodedImage, context: str) -> list[dict[str, Any]]:
        """Messages answering one past reply: tool results, then the next screenshot."""
        messages: list[dict[str, Any]] = []
        lines = []
        for n, call in enumerate(ex.calls, 1):
            text, _ = call_answer(call, item)
            if call.call_id:
                messages.append({"role": "tool", "tool_call_id": call.call_id, "content": text})
            elif call.action_index is not None:
                lines.append(f"action {n}: {text}")
            else:
                lines.append(text)
        if notes := step_notes(item):
            lines.append("Note: " + notes)
        text = ("Results:\n" + "\n".join(lines) + "\n\n" if lines else "") + "The screen now:"
        messages.append({"role": "user", "content": self._screen_parts(text, image, context)})
        return messages

    def _screen_parts(self, text: str, image: EncodedImage, context: str) -> list[dict[str, Any]]:
        parts = [{"type": "text", "text": text}]
        if context:
            parts.append({"type": "text", "text": context})
        parts.append(self._image_part(image))
        return parts

    def build_request(self, task: str, observation: Observation, history: Sequence[HistoryItem],
                      image: EncodedImage, context: str, mode: Mode) -> tuple[dict[str, Any], list[EncodedImage]]:
        """The keyword arguments of `chat.completions.create`, and the images they carry."""
        window = self.transcript.window(history)
        kept = window.kept
        first, first_context = (kept[0].image, kept[0].context) if kept else (image, context)
        messages: list[dict[str, Any]] = []
        if system := self._system(observation, image, mode):
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": self._screen_parts(self._intro(task, window.older), first,
                                                                       first_context)})
        for i, ex in enumerate(kept):
            messages.append(ex.reply)
            nxt, nxt_context = (kept[i + 1].image, kept[i + 1].context) if i + 1 < len(kept) else (image, context)
            item = window.results.get(ex.step) if ex.step is not None else None
            messages.extend(self._after(ex, item, nxt, nxt_context))
        if observation.notes:
            messages[-1]["content"].insert(0, {"type": "text", "text": "Note: " + "; ".join(observation.notes)})
        known = {i.data_url: i for i in [image, *(e.image for e in kept)]}
        images = _prune(messages, min(self.config.keep_screenshots, self.profile.max_images), known)
        request: dict[str, Any] = {"model": self.config.model, "messages": messages,
                                   "max_tokens": self.profile.max_tokens}
        if self.use_tools:
            request["tools"] = function_tools(mode, self.profile.convention, image.size)
        return request, images

    def _completion_usage(self, completion: ChatCompletion, estimate: int, raw: str) -> Usage:
        u = completion.usage
        if u is None:
            return self._usage(None, None, 0, estimate, raw)
        details = getattr(u, "prompt_tokens_details", None)
        cached = getattr(details, "cached_tokens", 0) or 0 if details is not None else 0
        return self._usage(u.prompt_tokens, u.completion_tokens, cached, estimate, raw)


def _raw(completion: ChatCompletion) -> str:
    if not completion.choices:
        return ""
    message = completion.choices[0].message
    if message.tool_calls:
        calls = [{"name": tc.function.name, "arguments": tc.function.arguments}  # type: ignore[union-attr]
                 for tc in message.tool_calls if getattr(tc, "function", None) is not None]
        return json.dumps({"content": message.content, "tool_calls": calls})
    return message.content or ""


def _outside_json(text: str) -> str:
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=len(text))
    return text[:start].strip().removeprefix("```json").strip()


def _prune(messages: list[dict[str, Any]], keep: int, known: dict[str, EncodedImage]) -> list[EncodedImage]:
    """Keep the `keep` newest images (and their legends); older ones become a short text."""
    slots = [(m["content"], k) for m in messages if m["role"] == "user" and isinstance(m["content"], list)
             for k, part in enumerate(m["content"]) if part.get("type") == "image_url"]
    cut = max(0, len(slots) - keep)
    for content, k in slots[:cut]:
        content[k] = {"type": "text", "text": OMITTED}
        if k > 0 and content[k - 1].get("text", "").startswith(LEGEND_HEAD):
            content[k - 1] = {"type": "text", "text": "(its marks omitted)"}
    return [known[c[k]["image_url"]["url"]] for c, k in slots[cut:] if c[k]["image_url"]["url"] in known]
