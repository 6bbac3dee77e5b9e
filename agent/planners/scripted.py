"""A planner that plays canned turns: for tests, and for running a fixed plan through the loop."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from actions.models import Action, Fail
from agent.perception.observation import Observation
from agent.planners.base import Capabilities, HistoryItem, Turn, Usage

TurnSource = Turn | Sequence[Action] | Callable[[Observation, Sequence[HistoryItem]], Turn]


class ScriptedPlanner:
    """Returns the given turns in order (a list of actions counts as one turn); then fails."""

    name = "scripted"
    model = "scripted"
    needs_elements = False
    capabilities = Capabilities()

    def __init__(self, turns: Iterable[TurnSource], usage: Usage | None = None) -> None:
        self.turns = list(turns)
        self.usage = usage or Usage()
        self.calls: list[tuple[str, Observation, int]] = []

    def prepare(self, task: str) -> None:
        """A script takes any task."""

    def next_turn(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn:
        self.calls.append((task, observation, len(history)))
        if len(self.calls) > len(self.turns):
            return Turn(actions=(Fail(reason="the script has no more turns"),), usage=self.usage)
        source = self.turns[len(self.calls) - 1]
        if callable(source):
            return source(observation, history)
        if isinstance(source, Turn):
            return source
        return Turn(reasoning=f"scripted turn {len(self.calls)}", actions=tuple(source), usage=self.usage,
                    raw_output=f"turn {len(self.calls)}")
