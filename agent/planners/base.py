"""The Planner protocol and the values that cross it.

Planners propose, the executor disposes: a planner never touches a Desktop, the executor or the
guards. It returns actions in **screen space**; each planner converts its model's coordinates at
its own boundary with the pure functions of `agent.perception.scaling`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from actions.models import Action, ActionResult
from agent.perception.observation import Observation
from agent.perception.reaction import Reaction


class Usage(BaseModel):
    """Model usage of one turn (possibly several calls: re-asks after malformed output)."""

    model_config = ConfigDict(frozen=True)
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: float = 0.0
    estimated: bool = False  # tokens estimated from image/text formulas, not reported by the server

    def __add__(self, other: Usage) -> Usage:
        return Usage(model_calls=self.model_calls + other.model_calls,
                     input_tokens=self.input_tokens + other.input_tokens,
                     output_tokens=self.output_tokens + other.output_tokens,
                     cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
                     cost_usd=self.cost_usd + other.cost_usd,
                     estimated=self.estimated or other.estimated)


class Turn(BaseModel):
    """One planner turn: what the model thought, what it proposes, and what it literally said."""

    model_config = ConfigDict(frozen=True)
    reasoning: str = ""
    actions: tuple[Action, ...] = ()
    raw_output: str = Field(default="", description="The model's raw output (text or JSON), for the recording")
    model_coordinates: tuple[str, ...] = Field(default=(), description="Per action, the model's own "
                                               "coordinates as it gave them, e.g. 'mark 17', '(512,384)@1024x768'")
    usage: Usage = Usage()
    prompt_ref: str = Field(default="", description="Which prompt template rendered the request")


class HistoryItem(BaseModel):
    """A finished step as the planner sees it next time."""

    model_config = ConfigDict(frozen=True)
    step: int
    reasoning: str = ""
    actions: tuple[Action, ...] = ()
    results: tuple[ActionResult, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. "the screen did not change after the click"
    reactions: tuple[Reaction, ...] = ()  # one per settled action, when the loop watched for reactions


class Capabilities(BaseModel):
    """What a planner needs built for it, declared instead of probed (trycua/cua `loops/base.py`).

    The wiring reads `elements` to give the perceiver OCR (and accessibility when a session bus is
    there); `model_calls` says whether turns may ask a model (offline, recorded and scripted do not).
    """

    model_config = ConfigDict(frozen=True)
    elements: bool = False
    model_calls: bool = False


@runtime_checkable
class Planner(Protocol):
    """What the loop, the wiring and the entry points may ask of a planner; nothing else.

    Built from a model spec `provider:model` and Settings by `agent.planners.registry`;
    `agent.planners.scripted.ScriptedPlanner` is the fake.
    """

    @property
    def name(self) -> str:
        """The provider as the CLI and the recording show it (`anthropic`, `offline`, ...)."""
        ...

    @property
    def model(self) -> str:
        """The model it asks (`claude-sonnet-4-5`, ...), or what stands in for one (`offline`)."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def needs_elements(self) -> bool:
        """Whether the next observation must carry elements (OCR/accessibility); asked every step."""
        ...

    def prepare(self, task: str) -> None:
        """Check `task` before anything starts (the offline planner parses its steps here); raises
        UsageError naming what is wrong."""
        ...

    def next_turn(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn: ...
