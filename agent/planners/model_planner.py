"""What every model-backed planner shares: configuration, the guarded call, usage, points.

A concrete planner implements `plan` (ModelPlanner.next_turn calls it and tags an error with the
model requests the failed turn made), builds a request, calls `self._call(send, request, images)`
(which checks the cost budget first, then sends it through `agent.planners.retry` within the run's
deadline) and converts the model's coordinates with `self._point(...)`, which refuses points
outside the image it saw. `self._check_actions(n)` bounds the actions of one answer; an empty
answer is re-asked like a malformed one and, if it stays empty, is a ProviderError (`unusable`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from actions.errors import PlannerOutputError, ProviderError, UIAgentError
from actions.models import Done, Fail, Point
from agent import status
from agent.deadline import Deadline
from agent.perception.elements import Element
from agent.perception.observation import Observation
from agent.perception.scaling import Convention, ImageSpace, image_to_screen, in_image
from agent.planners.base import Capabilities, HistoryItem, Turn, Usage
from agent.planners.cost import CostGuard, image_tokens, price, text_tokens, usage_of
from agent.planners.imaging import EncodedImage, encode_observation
from agent.planners.limits import DEFAULT_MAX_ACTIONS, too_many_actions
from agent.planners.profiles import ModelProfile
from agent.planners.retry import Retrier
from agent.planners.transport import Connection

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_REASKS = 2
EMPTY_ANSWER = "the answer was empty: no text and no tool call"


@dataclass(frozen=True)
class SafetyCheck:
    """A provider's request for human confirmation (OpenAI `pending_safety_checks`)."""

    id: str
    code: str = ""
    message: str = ""


SafetyConfirm = Callable[[Sequence[SafetyCheck]], bool]


def decline_safety_checks(checks: Sequence[SafetyCheck]) -> bool:
    """The non-interactive default: a safety check is never acknowledged without a human."""
    return False


@dataclass
class PlannerConfig:
    """Everything a planner needs, built by `agent.planners.registry.build_planner`."""

    provider: str
    model: str
    profile: ModelProfile
    connection: Connection
    keep_screenshots: int = 3
    cost_guard: CostGuard = field(default_factory=CostGuard)
    confirm_safety: SafetyConfirm = decline_safety_checks
    max_reasks: int = MAX_REASKS
    max_actions: int = DEFAULT_MAX_ACTIONS  # per answer; more is a ProviderError (agent.planners.limits)
    deadline: Deadline = field(default_factory=lambda: Deadline(None))  # the run's --timeout


@dataclass
class CallStats:
    """Timing of the planner's work versus the provider's (for the overhead benchmark)."""

    calls: int = 0
    sdk_s: float = 0.0
    image_s: float = 0.0      # scaling, marks and encoding of screenshots
    last_request_bytes: int = 0
    request_bytes: list[int] = field(default_factory=list)


class ModelPlanner:
    """Base of the model-backed planners (not a Planner by itself: subclasses add next_turn)."""

    provider = "model"

    def __init__(self, config: PlannerConfig) -> None:
        self.config = config
        self.profile = config.profile
        self.name = config.provider          # what the CLI shows as name:model
        self.model = config.model
        self.spec = f"{config.provider}:{config.model}"
        self.needs_elements = config.profile.needs_elements  # the loop perceives elements for marks
        self.capabilities = Capabilities(elements=self.needs_elements, model_calls=True)
        self.stats = CallStats()
        self._last_image: tuple[tuple[Any, ...], EncodedImage] | None = None

    def prepare(self, task: str) -> None:
        """A model reads any task; the CLI refuses an empty one."""

    def next_turn(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn:
        """The subclass's `plan`; an error leaves carrying the model requests this turn made."""
        first = self.stats.calls
        try:
            return self.plan(task, observation, history)
        except UIAgentError as e:
            e.model_calls = self.stats.calls - first
            raise

    def plan(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn:
        raise NotImplementedError

    def _encode(self, observation: Observation, elements: tuple[Element, ...] = ()) -> EncodedImage:
        """The observation as the model sees it; an unchanged frame (same `frame_hash`) is reused."""
        key = (observation.frame_hash, observation.screenshot.size, tuple((e.id, e.box) for e in elements))
        if observation.frame_hash and self._last_image is not None and self._last_image[0] == key:
            return self._last_image[1]
        started = time.perf_counter()
        image = encode_observation(observation, self.profile, elements)
        self.stats.image_s += time.perf_counter() - started
        self._last_image = (key, image)
        return image

    # ------------------------------------------------------------------ calls
    @property
    def url(self) -> str:
        return self.config.connection.base_url or ""

    def estimate_input_tokens(self, request: dict[str, Any], images: Sequence[EncodedImage]) -> int:
        """Text at 4 characters a token plus each image by the profile's formula."""
        body = json.dumps(request, default=str)
        self.stats.last_request_bytes = len(body)
        image_chars = sum(len(i.b64) for i in images)
        return text_tokens(max(0, len(body) - image_chars)) + sum(image_tokens(self.profile, i.size) for i in images)

    def _call(self, send: Callable[..., T], request: dict[str, Any], images: Sequence[EncodedImage],
              url: str) -> tuple[T, int]:
        """Check the budget, then send (`send(timeout=..., extra_headers=...)`, retried within the
        deadline); returns the SDK's answer and the estimated input tokens."""
        estimate = self.estimate_input_tokens(request, images)
        guard = self.config.cost_guard
        guard.check(price(self.profile, estimate, guard.expected_output_tokens()), f"the next {self.spec} call")
        self.stats.request_bytes.append(self.stats.last_request_bytes)
        conn = self.config.connection
        retrier = Retrier(provider=self.config.provider, spec=self.spec, url=url, deadline=self.config.deadline,
                          max_retries=conn.max_retries, timeout=conn.timeout, on_request=self._count)
        started = time.perf_counter()
        status.show(f"{self.spec}: thinking...")  # the sink draws the seconds it has been waiting
        try:
            answer = retrier.send(send)
        finally:
            status.clear()
            self.stats.sdk_s += time.perf_counter() - started
        log.debug("%s: call %d, %d bytes, ~%d input tokens", self.spec, self.stats.calls,
                  self.stats.last_request_bytes, estimate)
        return answer, estimate

    def _count(self) -> None:
        self.stats.calls += 1

    def _check_actions(self, count: int) -> None:
        """An answer with more than `max_actions` actions is refused whole (never performed or stored)."""
        if count > self.config.max_actions:
            raise too_many_actions(self.spec, count, self.config.max_actions)

    def _usage(self, input_tokens: int | None, output_tokens: int | None, cached: int,
               estimate_input: int, output_text: str) -> Usage:
        usage = usage_of(self.profile, input_tokens, output_tokens, cached, estimate_input=estimate_input,
                         estimate_output=text_tokens(len(output_text)))
        self.config.cost_guard.add(usage)
        return usage

    # ------------------------------------------------------------------ coordinates
    def _point(self, space: ImageSpace, x: Any, y: Any, convention: Convention | None = None) -> Point:
        """A model's point as a screen Point; PlannerOutputError if it is not inside the image."""
        conv = convention or self.profile.convention
        fx, fy = _number(x), _number(y)
        if fx is None or fy is None:
            raise PlannerOutputError(f"coordinates must be numbers, got x={x!r}, y={y!r}")
        if not in_image(space, fx, fy, conv):
            limit = {"pixels": f"{space.width}x{space.height} pixels", "grid1000": "the 0-1000 grid",
                     "fraction": "0-1"}[conv]
            raise PlannerOutputError(f"point ({fx:g}, {fy:g}) is outside the image ({limit})")
        return image_to_screen(space, fx, fy, conv)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def unusable(spec: str, reasks: int, error: str) -> UIAgentError:
    """The error of an answer still unusable after `reasks` re-asks: an empty one is the provider's
    failure (exit 4), a malformed one the task's (exit 1)."""
    if error == EMPTY_ANSWER:
        return ProviderError(f"{spec}: empty answers after {reasks} re-asks ({error})")
    return PlannerOutputError(f"{spec}: unusable answer after {reasks} re-asks: {error}")


def tool_turn(parsed: Any, raw: str, usage: Usage, prompt_ref: str) -> Turn:
    """The Turn of a computer-tool planner. An answer without tool calls ends the run: `Done` with
    its text, or `Fail` when it starts with "FAILED:" (as the system prompts ask)."""
    actions, coords = list(parsed.actions), list(parsed.coords)
    if not parsed.calls:
        text = parsed.text.strip()
        if text.upper().startswith("FAILED:"):
            actions, coords = [Fail(reason=text[7:].strip()[:4000] or "the model gave up")], [""]
        else:
            actions, coords = [Done(summary=text[:4000])], [""]
    return Turn(reasoning=(parsed.reasoning + "\n" + parsed.text).strip(), actions=tuple(actions),
                raw_output=raw, model_coordinates=tuple(coords), usage=usage, prompt_ref=prompt_ref)
