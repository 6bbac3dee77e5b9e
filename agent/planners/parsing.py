"""Tolerant parsing of what models write: JSON in text, numbers in strings.

Small local models wrap JSON in code fences, add prose around it, leave trailing commas, use
single quotes or Python literals, or stop mid-object. `extract_json` repairs those; anything it
cannot read raises `PlannerOutputError` (never another exception), so callers can re-ask.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from actions.errors import PlannerOutputError

MAX_TEXT = 200_000
_FENCE = re.compile(r"```(?:json|JSON|javascript|python)?\s*\n?(.*?)(?:```|$)", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_OPEN = {"{": "}", "[": "]"}


def _balanced(text: str, start: int) -> str:
    """From `start` (a { or [) to its matching bracket; if the text ends first, close what is open."""
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in _OPEN:
            stack.append(_OPEN[ch])
        elif ch in "}]" and stack and stack[-1] == ch:
            stack.pop()
            if not stack:
                return text[start: i + 1]
    tail = text[start:].rstrip().rstrip(",")
    if quote:
        tail += quote
    return tail + "".join(reversed(stack))


def _candidates(text: str) -> list[str]:
    found: list[str] = []
    for block in _FENCE.findall(text):
        found.append(block.strip())
    for source in [*found, text]:
        for opener in "{[":
            index = source.find(opener)
            if index >= 0:
                found.append(_balanced(source, index))
    return [c for c in found if c]


def _repairs(candidate: str) -> list[str]:
    fixed = _TRAILING_COMMA.sub(r"\1", candidate)
    quoted = _BARE_KEY.sub(r'\1"\2":', fixed)
    return [candidate, fixed, quoted]


def _literal(candidate: str) -> Any:
    """Python-literal reading (single quotes, True/None, trailing commas); no code runs."""
    text = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", candidate)))
    return ast.literal_eval(text)


def extract_json(text: str) -> Any:
    """The first JSON object or array in `text`, repaired if need be; PlannerOutputError if none."""
    if not isinstance(text, str) or not text.strip():
        raise PlannerOutputError("the answer is empty: answer with a JSON object")
    text = text[:MAX_TEXT]
    try:
        for candidate in _candidates(text):
            for attempt in _repairs(candidate):
                try:
                    return json.loads(attempt)
                except ValueError:
                    pass
                try:
                    value = _literal(attempt)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    continue
                if isinstance(value, (dict, list)):
                    return value
    except RecursionError:
        raise PlannerOutputError("the JSON in the answer is nested too deeply") from None
    snippet = " ".join(text.split())[:80]
    raise PlannerOutputError(f"no JSON object found in the answer ({snippet!r})")


def numbers(value: Any) -> list[float]:
    """Every number in a value: a number, a list of numbers, or a string like '<box>[[1,2,3,4]]</box>'."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, (list, tuple)):
        out: list[float] = []
        for item in value[:8]:
            out.extend(numbers(item))
        return out
    if isinstance(value, str):
        return [float(n) for n in _NUMBER.findall(value[:500])][:8]
    return []
