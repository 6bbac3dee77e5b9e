"""One MCP session's desktop: the parts `uiagent do` runs with (`agent.run.wiring.live_context`), the
image space of the last screenshot, and the recording (kind `mcp`, one step per tool call that acted).

The MCP client is the planner: `ClientPlanner` stands in the LoopContext and names the client in the
recording. Every acting tool call becomes a one-action Turn that the loop's own `act_turn` performs:
secrets expanded, the reaction it should cause awaited, the screen settled, stuck runs noticed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image

from actions.desktop.base import Screenshot
from actions.errors import Stopped, UsageError
from actions.executor import ConfirmCallback, decline_all
from actions.models import Action, ActionResult, Box, Verdict
from agent.perception.find import Match, find
from agent.perception.observation import Observation
from agent.perception.scaling import ImageSpace, box_to_image, image_to_screen, in_image
from agent.planners.base import Capabilities, HistoryItem, Turn
from agent.planners.imaging import scaled_observation
from agent.planners.profiles import ModelProfile
from agent.recording.format import Outcome
from agent.run.loop import LoopContext, act_turn
from agent.run.step_builder import StepBuilder
from agent.run.stuck import StuckDetector
from agent.run.wiring import live_context
from agent.settings import Settings

# Screenshots are scaled as for Claude's computer tool (the XGA/WXGA/FWXGA targets, else the pixel budget).
IMAGE_PROFILE = ModelProfile(provider="anthropic", resize="xga", image_format="jpeg", image_quality=85)
SESSION_TASK = "MCP session"


class ClientPlanner:
    """The MCP client plans; this only fills the loop's Planner slot and names the client."""

    def __init__(self, client: str = "mcp-client") -> None:
        self._client = client

    @property
    def name(self) -> str:
        return "mcp"

    @property
    def model(self) -> str:
        return self._client

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(elements=True)  # click(text=...) and find_text ground by OCR and accessibility

    @property
    def needs_elements(self) -> bool:
        return False

    def prepare(self, task: str) -> None:
        return None

    def next_turn(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn:
        raise UsageError("the MCP client plans: nothing asks this planner for a turn")


@dataclass(frozen=True)
class Shot:
    """A screenshot as the client got it: the observation and the scaled image with its space."""

    observation: Observation
    image: Image.Image
    space: ImageSpace


@dataclass(frozen=True)
class Acted:
    """What one acting tool call did."""

    result: ActionResult
    notes: tuple[str, ...]
    step: int
    settle_ms: float = 0.0  # waiting for the app's reaction and stillness (the record's settle phase)


@dataclass
class Confirmer:
    """The executor's confirm callback, asked through whatever the current tool call set (MCP
    elicitation); declined when nothing is set. Never approves by itself."""

    ask: ConfirmCallback = decline_all
    asked: list[str] = field(default_factory=list)

    def __call__(self, action: Action, verdict: Verdict) -> bool:
        self.asked.append(verdict.reason)
        return self.ask(action, verdict)


class DesktopSession:
    """The desktop one MCP session drives. Not thread-safe: the server runs one tool call at a time."""

    def __init__(self, ctx: LoopContext, display: str, confirmer: Confirmer, max_actions: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx = ctx
        self.display = display
        self.confirmer = confirmer
        self.max_actions = max_actions
        self.clock = clock
        self.started = clock()
        self.steps = 0
        self.shot: Shot | None = None       # the last screenshot returned: its pixel space is the client's
        self.frame: Screenshot | None = None  # the newest full-resolution frame the server has seen
        self.stuck = StuckDetector()
        self.stopped: str | None = None     # set once the guards' escalation stopped the session
        self.masked = False                 # a secret was typed: frames are masked where it shows

    @classmethod
    @contextmanager
    def open(cls, settings: Settings, display: str, *, secrets: Mapping[str, str] | None = None,
             client: str = "mcp-client", max_actions: int = 1000) -> Iterator[DesktopSession]:
        """Wire the parts as `uiagent do` does and start the recording; it is finished on exit."""
        confirmer = Confirmer()
        with live_context(SESSION_TASK, settings, display, ClientPlanner(client), confirm=confirmer,
                          secrets=secrets, kind="mcp") as ctx:
            session = cls(ctx, display, confirmer, max_actions)
            try:
                yield session
            finally:
                ctx.recorder.finish(session.outcome())

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def redactor_text(self) -> Callable[[str], str]:
        return self.ctx.executor.redactor.text

    def outcome(self) -> Outcome:
        if self.stopped:
            return Outcome(status="stopped", reason=self.stopped, steps=self.steps,
                           denials=len(self.ctx.executor.denied), duration_s=round(self.clock() - self.started, 3))
        return Outcome(status="done", reason="the MCP session ended", steps=self.steps,
                       denials=len(self.ctx.executor.denied), duration_s=round(self.clock() - self.started, 3))

    # ------------------------------------------------------------------ seeing

    def observe(self, elements: bool) -> Observation:
        obs = self.ctx.perceiver.observe(None, elements=elements)
        self.frame = obs.screenshot
        masker = self.ctx.masker
        return masker.observation(obs) if masker is not None and self.masked else obs

    def _masking(self) -> bool:
        return self.ctx.masker is not None and self.masked

    def screenshot(self, elements: bool) -> Shot:
        obs = self.observe(elements)
        image, space = scaled_observation(obs, IMAGE_PROFILE)
        self.shot = Shot(obs, image, space)
        return self.shot

    def space(self) -> ImageSpace:
        """The last screenshot's pixel space (before any: the one a screenshot now would have)."""
        if self.shot is not None:
            return self.shot.space
        geometry = self.ctx.desktop.geometry()
        frame = Observation(screenshot=Screenshot(image=Image.new("RGB", (geometry.width, geometry.height))),
                            screen=geometry)
        return scaled_observation(frame, IMAGE_PROFILE)[1]

    def to_screen(self, x: int, y: int) -> tuple[int, int]:
        space = self.space()
        if not in_image(space, x, y) or x == space.width or y == space.height:
            raise UsageError(f"({x}, {y}) is outside the {space.width}x{space.height} screenshot")
        p = image_to_screen(space, x, y)
        return p.x, p.y

    def to_image(self, box: Box) -> tuple[int, int, int, int]:
        return box_to_image(self.space(), box)

    def find(self, text: str, observation: Observation) -> Match:
        return find(observation.elements, text)

    # ------------------------------------------------------------------ acting

    def begin(self, elements: bool = False) -> tuple[StepBuilder, Observation]:
        """A step planned on a fresh observation (`elements`: for grounding by text) or on the newest
        frame (coordinates: the client planned on what it saw; nothing is grabbed again)."""
        self._check_budget()
        step = StepBuilder(self.steps + 1, self.ctx.recorder, self.clock,
                           mask=self.ctx.masker if self._masking() else None)
        frame = None if elements else self.frame
        obs = step.observe(self.ctx.perceiver, frame, elements)
        if frame is None:
            self.frame = obs.screenshot
        return step, obs

    def perform(self, step: StepBuilder, observation: Observation, action: Action, call: str) -> Acted:
        """Perform `action` through the loop's own act phase and record the step."""
        turn = Turn(actions=(action,), raw_output=self.redactor_text(call), prompt_ref="mcp")
        results, notes, finished = act_turn(self.ctx, step, turn, observation, self.stuck)
        record = step.finish(turn, results, notes)
        self.ctx.recorder.append(record)
        self.steps += 1
        self.frame = step.raw_frame or step.last_frame or self.frame
        self.masked = self.masked or step.mask is not None
        if finished is not None and finished.status == "stopped":  # the guards' escalation (max_denials)
            self.stopped = finished.reason
        elif finished is not None:  # a stuck run: the client plans, so it hears it and decides
            notes = [*notes, f"{finished.reason}: the last actions changed nothing new on screen"]
        return Acted(result=results[-1], notes=tuple(notes), step=record.index, settle_ms=record.durations.settle)

    def _check_budget(self) -> None:
        if self.stopped:
            raise Stopped(f"this session was stopped: {self.stopped}")
        if self.steps >= self.max_actions:
            raise Stopped(f"this session's action budget of {self.max_actions} actions is spent")
