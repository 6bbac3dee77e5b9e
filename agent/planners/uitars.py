"""UI-TARS (1.5, and v1 as an option) over an OpenAI-compatible server (vLLM, TGI, Ollama).

The model answers in its own action language, `Thought: ...\nAction: click(start_box='(x,y)')`.
Our own parser (not the `ui-tars` package) reads it; UI-TARS-1.5 points in absolute pixels of
the smart-resized image it saw, v1 on a 0-1000 grid (profile `convention = "grid1000"`).
"""

from __future__ import annotations

import re
from typing import Any

from openai.types.chat import ChatCompletion

from actions.errors import PlannerOutputError
from actions.models import Action
from agent.perception.observation import Observation
from agent.planners import prompts
from agent.planners.base import HistoryItem
from agent.planners.grounding import Grounder, Mode
from agent.planners.history import Exchange, call_answer, step_notes, summarise
from agent.planners.imaging import EncodedImage
from agent.planners.model_planner import EMPTY_ANSWER, PlannerConfig
from agent.planners.openai_chat import ChatPlanner, RawCall, Reading, _raw

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ACTION = re.compile(r"Action\s*:", re.IGNORECASE)
_THOUGHT = re.compile(r"(?:Thought|Reflection|Action_Summary)\s*:\s*", re.IGNORECASE)
_ESCAPES = {"n": "\n", "t": "\t", "'": "'", '"': '"', "\\": "\\"}
MAX_CALLS = 10

# UI-TARS names -> our call arguments (the Grounder knows the rest of the vocabulary)
_POINT_KEYS = ("start_box", "point", "start_point")
_SCROLL_AMOUNT = 5
_WAIT_S = 5.0


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def _closing_quote(text: str, start: int, quote: str) -> int:
    """Index of the quote that ends a value opened at `start`: one followed by `,key=` or `)`.
    Tolerates unescaped quotes inside (type(content='it's')); -1 if unterminated."""
    end_pattern = re.compile(r"\s*(?:,\s*[A-Za-z_]\w*\s*=|\)|$)")
    i = start
    fallback = -1
    while True:
        i = text.find(quote, i)
        if i < 0:
            return fallback
        if text[i - 1] != "\\" or text[i - 2: i] == "\\\\":
            if end_pattern.match(text, i + 1):
                return i
            fallback = fallback if fallback >= 0 else i
        i += 1


def _call(text: str, pos: int) -> tuple[str, dict[str, str], int]:
    """Parse `name(key='value', key=value)` at `pos`; returns (name, kwargs, next position)."""
    m = _IDENT.match(text, pos)
    if not m:
        raise PlannerOutputError(f"expected an action such as click(...) at {text[pos:pos + 30]!r}")
    name, pos = m.group(0), m.end()
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    if pos >= len(text) or text[pos] != "(":
        raise PlannerOutputError(f"expected '(' after {name!r}")
    pos += 1
    kwargs: dict[str, str] = {}
    while True:
        while pos < len(text) and text[pos] in " \t\n,":
            pos += 1
        if pos >= len(text):
            return name, kwargs, pos  # unterminated call: take what we have
        if text[pos] == ")":
            return name, kwargs, pos + 1
        key = _IDENT.match(text, pos)
        if not key:
            raise PlannerOutputError(f"bad argument in {name}(...): {text[pos:pos + 30]!r}")
        pos = key.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text) or text[pos] != "=":
            raise PlannerOutputError(f"expected '=' after {key.group(0)!r} in {name}(...)")
        pos += 1
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] in "'\"":
            quote = text[pos]
            end = _closing_quote(text, pos + 1, quote)
            end = len(text) if end < 0 else end
            kwargs[key.group(0)] = _unescape(text[pos + 1: end])
            pos = end + 1
        else:
            end = pos
            depth = 0
            while end < len(text) and not (depth == 0 and text[end] in ",)"):
                depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(text[end], 0)
                end += 1
            kwargs[key.group(0)] = text[pos:end].strip()
            pos = end


def parse_uitars(text: str) -> tuple[str, list[tuple[str, dict[str, str]]]]:
    """`Thought: ...\\nAction: ...` -> (thought, [(name, kwargs)]). PlannerOutputError if no action."""
    if not isinstance(text, str):
        raise PlannerOutputError("the answer is not text")
    matches = list(_ACTION.finditer(text))
    if not matches:
        raise PlannerOutputError("no 'Action:' line: answer as 'Thought: ...' then 'Action: ...'")
    head, body = text[: matches[-1].start()], text[matches[-1].end():]
    thought = _THOUGHT.sub("", head, count=1).strip() if _THOUGHT.search(head) else head.strip()
    calls: list[tuple[str, dict[str, str]]] = []
    pos = 0
    while len(calls) < MAX_CALLS:
        while pos < len(body) and body[pos] in " \t\n\r`;":
            pos += 1
        if pos >= len(body):
            break
        name, kwargs, pos = _call(body, pos)
        calls.append((name, kwargs))
    if not calls:
        raise PlannerOutputError("the Action line is empty")
    return thought, calls


def to_call_args(name: str, kwargs: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """UI-TARS arguments in the Grounder's vocabulary."""
    lowered = name.lower()
    args: dict[str, Any] = {}
    for key in _POINT_KEYS:
        if key in kwargs:
            args["point"] = kwargs[key]
            break
    if lowered in ("drag", "select"):
        args = {"start_box": kwargs.get("start_box") or kwargs.get("start_point"),
                "end_box": kwargs.get("end_box") or kwargs.get("end_point")}
        if args["start_box"] is None or args["end_box"] is None:
            raise PlannerOutputError("drag needs start_point and end_point")
    elif lowered == "hotkey" or lowered in ("press", "keydown", "keyup"):
        args["chord"] = kwargs.get("key") or kwargs.get("hotkey") or ""
    elif lowered == "type":
        args["text"] = kwargs.get("content", "")
    elif lowered == "scroll":
        args["direction"] = kwargs.get("direction", "down")
        args["amount"] = _SCROLL_AMOUNT
    elif lowered == "wait":
        args["seconds"] = _WAIT_S
    elif lowered == "finished":
        args["summary"] = kwargs.get("content", "")
    elif lowered == "call_user":
        args["reason"] = kwargs.get("content") or "the model asked for the user's help"
    return lowered, args


class UITarsPlanner(ChatPlanner):
    """UI-TARS-1.5 (pixels of the smart-resized image) or v1 (0-1000 grid) by profile."""

    provider = "ui-tars"
    system_template = "uitars_computer.j2"

    def __init__(self, config: PlannerConfig) -> None:
        super().__init__(config)
        self.use_tools = False

    def _mode(self, observation: Observation) -> Mode:
        return "coordinates"

    def _system(self, observation: Observation, image: EncodedImage, mode: Mode) -> str | None:
        return None  # the instruction travels in the first user message, as UI-TARS was trained

    def _intro(self, task: str, older: list[HistoryItem]) -> str:
        return prompts.render(self.system_template, task=task, summary=summarise(older), language="English")

    def _after(self, ex: Exchange, item: HistoryItem | None, image: EncodedImage, context: str) -> list[dict[str, Any]]:
        problems = [text for text, bad in (call_answer(c, item) for c in ex.calls) if bad]
        if notes := step_notes(item):
            problems.append(notes)
        parts: list[dict[str, Any]] = []
        if problems:
            parts.append({"type": "text", "text": "Note: " + "; ".join(problems)})
        parts.append(self._image_part(image))
        return [{"role": "user", "content": parts}]

    def _read(self, completion: ChatCompletion) -> Reading:
        if not completion.choices:
            raise PlannerOutputError("the server returned no choices")
        content = completion.choices[0].message.content or ""
        if not content.strip():
            raise PlannerOutputError(EMPTY_ANSWER)
        thought, parsed = parse_uitars(content)
        calls = []
        for name, kwargs in parsed:
            try:
                kind, args = to_call_args(name, kwargs)
                calls.append(RawCall(call_id="", name=kind, args=args))
            except PlannerOutputError as e:
                calls.append(RawCall(call_id="", name=name, args=None, error=str(e)))
        return Reading(calls=calls, reasoning=thought, reply={"role": "assistant", "content": content},
                       raw=_raw(completion))


def parse_and_ground(text: str, grounder: Grounder) -> list[Action]:
    """Parse a UI-TARS answer and ground every call (for tests and tools): list of Actions."""
    _, calls = parse_uitars(text)
    return [grounder.action(*to_call_args(name, kwargs))[0] for name, kwargs in calls]


