"""Helpers for planner tests: observations of a fake screen, planners wired to a fake server."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image, ImageDraw

from actions.desktop.base import Monitor, ScreenGeometry, Screenshot
from actions.models import Action, ActionResult, Box
from agent.deadline import Deadline
from agent.perception.elements import Element
from agent.perception.observation import Observation
from agent.planners.base import HistoryItem, Planner
from agent.planners.cost import CostGuard
from agent.planners.model_planner import SafetyConfirm, decline_safety_checks
from agent.planners.registry import build_planner
from agent.settings import Settings
from tests.fakes.model_servers import (
    FakeModelServer,
    anthropic_message,
    chat_body,
    chat_tool_call,
    computer_call,
    responses_body,
    tool_use,
)


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@functools.lru_cache(maxsize=32)
def screen_image(size: tuple[int, int] = (1920, 1080), seed: int = 0) -> Image.Image:
    """A desktop-like picture: windows with title bars and lines of text."""
    image = Image.new("RGB", size, (40, 44, 52))
    draw = ImageDraw.Draw(image)
    w, h = size
    for i in range(6):
        x, y = (97 * (i + seed)) % max(1, w - 420), (61 * (i + seed)) % max(1, h - 280)
        draw.rectangle((x, y, x + 400, y + 260), fill=(235, 235, 235), outline=(0, 0, 0))
        draw.rectangle((x, y, x + 400, y + 24), fill=(60, 90, 160))
        for j in range(10):
            draw.text((x + 10, y + 30 + j * 20), f"Line {j} of window {i} step {seed}", fill=(0, 0, 0))
    return image


def observation(size: tuple[int, int] = (1920, 1080), elements: tuple[Element, ...] = (), seed: int = 0,
                notes: tuple[str, ...] = ()) -> Observation:
    w, h = size
    return Observation(screenshot=Screenshot(image=screen_image(size, seed)),
                       screen=ScreenGeometry(width=w, height=h,
                                             monitors=(Monitor(index=1, left=0, top=0, width=w, height=h),)),
                       elements=elements, notes=notes)


def element(id: int, box: tuple[int, int, int, int], text: str = "", role: str = "button") -> Element:
    return Element(id=id, text=text, role=role, box=Box(left=box[0], top=box[1], right=box[2], bottom=box[3]))


def performed(step: int, actions: tuple[Action, ...], reasoning: str = "",
              status: str = "performed", error: str | None = None) -> HistoryItem:
    results = tuple(ActionResult(action=a, status=status, error=error) for a in actions)  # type: ignore[arg-type]
    return HistoryItem(step=step, reasoning=reasoning, actions=actions, results=results)


def planner_for(spec: str, server: FakeModelServer, *, max_cost: float | None = None, max_retries: int = 0,
                timeout: float = 5.0, confirm: SafetyConfirm = decline_safety_checks,
                keep: int = 3, deadline: Deadline | None = None, **settings: Any) -> Planner:
    provider = spec.split(":")[0]
    url = server.url if provider == "anthropic" else server.openai_url
    return build_planner(Settings(model=spec, base_url=url, max_cost=max_cost, keep_screenshots=keep, **settings),
                         cost_guard=CostGuard(max_cost), confirm_safety=confirm, api_key="test-key",
                         max_retries=max_retries, request_timeout=timeout, deadline=deadline)


# One good answer per wire protocol: a click.
OK_ANTHROPIC = anthropic_message(tool_use("left_click", coordinate=[683, 384]))
OK_CHAT = chat_body(tool_calls=[chat_tool_call("click", {"x": 10, "y": 10})])
OK_RESPONSES = responses_body(computer_call({"type": "click", "button": "left", "x": 683, "y": 384}))
