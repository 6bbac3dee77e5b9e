"""A model planner built on a worker thread, so its SDK's import overlaps the rest of start-up.

Building a model planner is mostly its SDK's import and client (`import anthropic` takes seconds)
and needs nothing of the display. `agent.planners.registry.start_planner` starts the build and
returns a `PendingPlanner` at once; the display, the `--launch` apps and the wiring start
meanwhile, and the first `next_turn` waits for the build. What the wiring asks before that
(name, model, capabilities, needs_elements) comes from the model's profile, and the errors a user
can cause (a bad spec, profiles file or missing key) were raised before the build started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from agent.perception.observation import Observation
from agent.planners.base import Capabilities, HistoryItem, Planner, Turn


class PendingPlanner:
    def __init__(self, build: Callable[[], Planner], name: str, model: str, capabilities: Capabilities) -> None:
        self.name = name
        self.model = model
        self.capabilities = capabilities
        self._planner: Planner | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._build, args=(build,), name="planner-build", daemon=True)
        self._thread.start()

    def _build(self, build: Callable[[], Planner]) -> None:
        try:
            self._planner = build()
        except BaseException as e:  # re-raised in the caller's thread by `planner`
            self._error = e

    @property
    def planner(self) -> Planner:
        """The built planner: waits for the build, raises what it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._planner is not None
        return self._planner

    @property
    def needs_elements(self) -> bool:
        return self._planner.needs_elements if self._planner is not None else self.capabilities.elements

    def prepare(self, task: str) -> None:
        """Model planners read any task (ModelPlanner.prepare): nothing to wait for."""

    def next_turn(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn:
        return self.planner.next_turn(task, observation, history)
