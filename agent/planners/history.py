"""History control: older steps as short text, only the last few exchanges verbatim.

A planner keeps a `Transcript` of its own exchanges (what the model saw, what it answered, its
call ids). Each request is built from the last `keep` exchanges plus a text summary of every
older step, so a request's size stays bounded however long the run is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from actions.models import Action, ActionResult, Click
from agent.planners.base import HistoryItem
from agent.planners.imaging import EncodedImage
from agent.planners.prompts import untrusted

MAX_SUMMARY_LINES = 30


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def result_text(result: ActionResult | None) -> tuple[str, bool]:
    """(text, is_error) for one action's result, as the model should hear it."""
    if result is None:
        return ("not performed: an earlier action of this step failed or the step stopped", True)
    if result.ok:
        return ("ok", False)
    return (f"{result.status}: {result.error or result.verdict.reason or 'no reason given'}", True)


def describe(action: Action) -> str:
    """An action's line for the model; a clicked element's label is screen text, so it travels
    inside the untrusted screen_text tags (`prompts.untrusted`)."""
    label = action.target.label if isinstance(action, Click) and action.target is not None else None
    line = action.describe()
    if not label or repr(label) not in line:
        return _clip(line, 80)
    return line.replace(repr(label), untrusted(_clip(label, 40), inline=True), 1)


def step_line(item: HistoryItem, reasoning_chars: int = 120) -> str:
    """`step 3: <reasoning> | click <screen_text ...>OK</screen_text> at (10, 20) -> ok; type 'x' -> ...`."""
    parts = []
    for i, action in enumerate(item.actions):
        text, _ = result_text(item.results[i] if i < len(item.results) else None)
        parts.append(f"{describe(action)} -> {_clip(text, 80)}")
    head = f"step {item.step}: "
    if item.reasoning:
        head += _clip(item.reasoning, reasoning_chars) + " | "
    body = "; ".join(parts) or "no action"
    notes = f" ({_clip('; '.join(item.notes), 100)})" if item.notes else ""
    return head + body + notes


def summarise(items: Sequence[HistoryItem], max_lines: int = MAX_SUMMARY_LINES) -> str:
    """Older steps as at most `max_lines` lines (the oldest are counted, not listed)."""
    if not items:
        return ""
    shown = list(items)[-max_lines:]
    lines = [step_line(i) for i in shown]
    if len(items) > len(shown):
        lines.insert(0, f"({len(items) - len(shown)} earlier steps not listed)")
    return "\n".join(lines)


@dataclass
class Call:
    """One tool call of a model reply and what to answer it with next time."""

    call_id: str
    action_index: int | None = None     # index into the turn's actions; None = no desktop action
    note: str = ""                      # text answer when there is no action (screenshot, zoom, refusal)
    is_error: bool = False
    image: EncodedImage | None = None   # an extra image to answer with (zoom)


@dataclass
class Exchange:
    """One model reply: the image it answered, the reply to resend, its calls, its step."""

    image: EncodedImage
    reply: Any
    calls: list[Call] = field(default_factory=list)
    step: int | None = None
    context: str = ""   # text that belongs with the image (e.g. the mark legend)


@dataclass
class Window:
    older: list[HistoryItem]
    kept: list[Exchange]
    results: dict[int, HistoryItem]


class Transcript:
    """The planner's own memory of exchanges, bounded to `keep` entries."""

    def __init__(self, keep: int) -> None:
        self.keep = max(1, keep)
        self.exchanges: list[Exchange] = []
        self._bound: set[int] = set()

    def add(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)
        del self.exchanges[: -self.keep]

    def bind(self, history: Sequence[HistoryItem]) -> None:
        """Tie the last reply to the history item the loop appended for it."""
        if not self.exchanges or self.exchanges[-1].step is not None:
            return
        if history and history[-1].step not in self._bound:
            self.exchanges[-1].step = history[-1].step
            self._bound.add(history[-1].step)
        else:
            self.exchanges[-1].step = -1  # the loop performed nothing for this reply

    def window(self, history: Sequence[HistoryItem]) -> Window:
        self.bind(history)
        by_step = {h.step: h for h in history}
        kept = [e for e in self.exchanges if e.step is not None]
        first = min((e.step for e in kept if e.step is not None and e.step >= 0), default=None)
        kept_steps = {e.step for e in kept}
        older = [h for h in history if h.step not in kept_steps and (first is None or h.step < first)]
        if first is None and not kept:
            older = list(history)
        return Window(older=older, kept=kept, results=by_step)


def call_answer(call: Call, item: HistoryItem | None) -> tuple[str, bool]:
    """The text (and error flag) that answers one call, from the step's results."""
    if call.action_index is None:
        return (call.note or "ok", call.is_error)
    if item is None:
        return ("not performed: the step was not executed", True)
    result = item.results[call.action_index] if call.action_index < len(item.results) else None
    return result_text(result)


def step_notes(item: HistoryItem | None) -> str:
    """The loop's notes about a step (e.g. "the screen did not change"), as one line."""
    return "; ".join(item.notes) if item is not None and item.notes else ""
