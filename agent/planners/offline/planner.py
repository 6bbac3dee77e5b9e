"""The offline planner: follows explicit step-by-step instructions without any model.

Targets are grounded by text (OCR / accessibility elements in the observation). An ambiguous or
missing target fails the step with the candidates it saw: it never guesses. Steps that need no
grounding (type, press, wait) that follow each other are batched into one turn; a pointer step
always gets a fresh observation.

On a real app every step's effect must be seen: when the loop watched for reactions
(`HistoryItem.reactions`) and a step's action changed nothing on screen within its deadline,
the run fails with that reason, unless the step ends with `(no change)`. `verify` and `wait for`
look again (a `Wait` of `poll_s`, then a fresh observation) until their deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from actions.models import Action, Click, Done, Drag, Fail, Key, Move, Scroll, Target, Type, Wait
from agent.perception.elements import Element
from agent.perception.find import VISIBLE_MIN_SCORE, Selector, text_visible
from agent.perception.observation import Observation
from agent.planners.base import Capabilities, HistoryItem, Turn
from agent.planners.offline.instructions import Instruction, parse_task

if TYPE_CHECKING:
    from agent.perception.find import Match

Finder = Callable[..., "Match"]  # (elements, text, min_score=, **Selector.kwargs()) -> Match-like
_GROUNDLESS = ("type", "key", "wait")
CLICK_MIN_SCORE = 0.75   # a target to act on may differ a little from what OCR read
VERIFY_MIN_SCORE = VISIBLE_MIN_SCORE  # a text to check must be there nearly letter for letter


def _default_find(elements: Sequence[Element], text: str, min_score: float = CLICK_MIN_SCORE,
                  **select: Any) -> Match:
    from agent.perception.find import find

    return find(elements, text, min_score=min_score, **select)


class OfflinePlanner:
    """See the module docstring. `needs_elements` tells the loop to perceive text elements."""

    name = "offline"
    model = "offline"
    capabilities = Capabilities(elements=True)  # grounds targets by text; `needs_elements`: this step?

    def __init__(self, find: Finder | None = None, clock: Callable[[], float] = time.monotonic,
                 poll_s: float = 0.3) -> None:
        self.find = find or _default_find
        self.clock = clock
        self.poll_s = poll_s
        self._steps: list[Instruction] | None = None
        self._task = ""
        self._index = 0
        self._waiting_since: float | None = None
        self._acted: list[Instruction] = []  # the step behind each action of the last turn

    @property
    def needs_elements(self) -> bool:
        """Only a step that grounds a target (or checks the screen) needs OCR/accessibility."""
        if self._steps is None:
            return True
        return self._index < len(self._steps) and self._steps[self._index].verb not in _GROUNDLESS

    def prepare(self, task: str) -> None:
        """An unparseable instruction fails here, before anything is performed."""
        self.steps(task)

    def steps(self, task: str) -> list[Instruction]:
        """Parse once per task; raises UsageError naming an unparseable step."""
        if self._steps is None or task != self._task:
            self._steps, self._task, self._index = parse_task(task), task, 0
        return self._steps

    def next_turn(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn:
        steps = self.steps(task)
        if history and (bad := next((r for r in history[-1].results if not r.ok), None)):
            return self._turn([Fail(reason=f"step failed: {bad.describe()}")], [f"stopping: {bad.describe()}"])
        if history and (why := self._no_effect(history[-1])):
            return self._turn([Fail(reason=why)], [f"stopping: {why}"])
        self._acted = []
        actions: list[Action] = []
        notes: list[str] = []
        while self._index < len(steps) and not _ends_turn(actions):
            step = steps[self._index]
            if actions and step.verb not in _GROUNDLESS:
                break  # the next step needs to see the screen after these actions
            produced, advance = self._plan_step(step, observation)
            notes.append(f"step {self._index + 1}/{len(steps)} {step.source!r}: "
                         + (", ".join(a.describe() for a in produced) if produced else "ok"))
            actions += produced
            self._acted += [step] * len(produced)
            if not advance:
                break
            self._index += 1
            self._waiting_since = None
        if not actions and self._index >= len(steps):
            actions = [Done(summary=f"all {len(steps)} steps done")]
        return self._turn(actions, notes)

    def _no_effect(self, last: HistoryItem) -> str | None:
        """Why the last turn failed to show its effect: a step whose action changed nothing."""
        for step, action, reaction in zip(self._acted, last.actions, last.reactions):
            if reaction.missing and step.expect_change:
                return (f"{step.source!r}: nothing changed on screen within {reaction.deadline_s:g} s after "
                        f"{action.describe()} (end the step with '(no change)' if none is expected)")
        return None

    def _turn(self, actions: list[Action], notes: list[str]) -> Turn:
        raw = json.dumps({"actions": [a.model_dump(exclude_none=True) for a in actions]})
        return Turn(reasoning="; ".join(notes), actions=tuple(actions), raw_output=raw, prompt_ref="offline")

    # -- one instruction -> actions (and whether the cursor moves on)

    def _plan_step(self, step: Instruction, obs: Observation) -> tuple[list[Action], bool]:
        match step.verb:
            case "type":
                return [Type(text=step.text or "")], True
            case "key":
                return [Key(chord=step.chord or "")], True
            case "wait":
                return [Wait(seconds=step.seconds)], True
            case "done":
                return [Done(summary="done as instructed")], True
            case "verify" | "verify_not":
                return self._verify(step, obs)
            case "wait_for":
                return self._wait_for(step, obs)
            case _:
                return self._pointer(step, obs)

    def _ground(self, step: Instruction, text: str, obs: Observation, select: Selector) -> Element | Fail:
        # A one- or two-character target ("+", "7", "OK") must match exactly: "+/-" is not "+".
        min_score = VERIFY_MIN_SCORE if len(text.strip()) <= 2 else CLICK_MIN_SCORE
        result = self.find(obs.elements, text, min_score=min_score, **select.kwargs())
        if result.best is not None and not result.ambiguous:
            return result.best
        if result.ambiguous or select.kwargs():  # the reason lists the candidates / names what was asked
            return Fail(reason=f"{step.source!r}: {result.reason}")
        seen = ", ".join(repr(_text(c)) for c in (result.candidates or [])[:6]) or "nothing similar"
        visible = ", ".join(repr(e.text) for e in obs.elements[:12]) or "no text at all"
        return Fail(reason=f"{step.source!r}: no {text!r} on screen; similar: {seen}; visible: {visible}")

    def _pointer(self, step: Instruction, obs: Observation) -> tuple[list[Action], bool]:
        if step.point is not None:
            x, y = step.point
            return [Click(x=x, y=y, button=step.button, count=step.count)], True
        if step.verb == "scroll" and not step.target:
            shot = obs.screenshot
            x, y = shot.left + shot.size[0] // 2, shot.top + shot.size[1] // 2
            return [Scroll(x=x, y=y, dx=step.dx, dy=step.dy)], True
        el = self._ground(step, step.target or "", obs, step.select)
        if isinstance(el, Fail):
            return [el], False
        c = el.box.center
        target = Target(label=el.text, role=el.role, bbox=el.box, mark=el.id)
        match step.verb:
            case "click":
                return [Click(x=c.x, y=c.y, button=step.button, count=step.count, target=target)], True
            case "move":
                return [Move(x=c.x, y=c.y, target=target)], True
            case "scroll":
                return [Scroll(x=c.x, y=c.y, dx=step.dx, dy=step.dy, target=target)], True
            case "drag":
                dest = self._ground(step, step.to or "", obs, step.to_select)
                if isinstance(dest, Fail):
                    return [dest], False
                return [Drag(path=(c, dest.box.center), target=target)], True
        return [Fail(reason=f"{step.source!r}: unsupported step")], False

    def _present(self, elements: Sequence[Element], text: str) -> bool:
        return text_visible(elements, text, finder=self.find)

    def _verify(self, step: Instruction, obs: Observation) -> tuple[list[Action], bool]:
        """Passes as soon as the screen agrees; looks again until `step.seconds` have passed."""
        present = self._present(obs.elements, step.target or "")
        if present == (step.verb == "verify"):
            return [], True
        if not self._timed_out(step):
            return [Wait(seconds=self.poll_s)], False
        what = "is not on screen" if step.verb == "verify" else "is still on screen"
        visible = ", ".join(repr(e.text) for e in obs.elements[:12]) or "no text at all"
        return [Fail(reason=f"{step.source!r}: {step.target!r} {what} after {step.seconds:g}s; "
                            f"visible: {visible}")], False

    def _wait_for(self, step: Instruction, obs: Observation) -> tuple[list[Action], bool]:
        if self._present(obs.elements, step.target or ""):
            return [], True
        if self._timed_out(step):
            return [Fail(reason=f"{step.source!r}: {step.target!r} did not appear within {step.seconds:g}s")], False
        return [Wait(seconds=self.poll_s)], False

    def _timed_out(self, step: Instruction) -> bool:
        now = self.clock()
        if self._waiting_since is None:
            self._waiting_since = now
        return now - self._waiting_since >= step.seconds


def _text(candidate: Any) -> str:
    """A find candidate's text (a Candidate wraps an Element; a bare Element is fine too)."""
    return str(getattr(getattr(candidate, "element", candidate), "text", candidate))


def _ends_turn(actions: list[Action]) -> bool:
    return bool(actions) and actions[-1].kind in ("done", "fail", "click", "move", "drag", "scroll", "wait")
