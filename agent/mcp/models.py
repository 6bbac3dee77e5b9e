"""The MCP tools' arguments: one frozen pydantic model per tool. `Tool.input_schema` is each model's
JSON schema, so the field descriptions here are what the client's model reads.

Coordinates are in the pixel space of the last screenshot the server returned (the screen scaled as
for Claude's computer tool); the server maps them to the screen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actions.models import MAX_SCROLL, MAX_TEXT, MAX_WAIT_S


class ToolArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActingArgs(ToolArgs):
    screenshot_after: bool = Field(default=False, description="Return a fresh screenshot (after the screen "
                                   "settled) with the result")


class ScreenshotArgs(ToolArgs):
    elements: bool = Field(default=False, description="Also list the text and controls found by OCR and "
                           "accessibility: id, role, text and box (left, top, right, bottom) in this "
                           "image's pixels; pass an id to click(element=...)")


class XY(ToolArgs):
    x: int = Field(description="x in the last screenshot's pixels")
    y: int = Field(description="y in the last screenshot's pixels")


class ClickArgs(ActingArgs):
    x: int | None = Field(default=None, description="x in the last screenshot's pixels (with y)")
    y: int | None = Field(default=None, description="y in the last screenshot's pixels (with x)")
    text: str | None = Field(default=None, min_length=1, max_length=200,
                             description="Click the control whose visible text or accessible name best "
                             "matches this (read from a fresh screenshot); several equal matches is an "
                             "error listing them")
    element: int | None = Field(default=None, ge=0, description="An element id from the last "
                                "screenshot(elements=true)")
    button: Literal["left", "right", "middle"] = "left"
    count: int = Field(default=1, ge=1, le=3, description="1 click, 2 double, 3 triple")

    @model_validator(mode="after")
    def _one_target(self) -> ClickArgs:
        given = [name for name, set_ in (("x/y", self.x is not None or self.y is not None),
                                         ("text", self.text is not None),
                                         ("element", self.element is not None)) if set_]
        if len(given) != 1:
            raise ValueError("give exactly one of x and y, text, or element"
                             + (f" (got {' and '.join(given)})" if given else ""))
        if given == ["x/y"] and (self.x is None or self.y is None):
            raise ValueError("x and y go together")
        return self


class TypeTextArgs(ActingArgs):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="Text to type into the focused window; "
                      "\\n presses Enter; {{NAME}} types the secret NAME the server was given")


class PressKeyArgs(ActingArgs):
    keys: str = Field(min_length=1, max_length=100, description="A key or chord: Return, Escape, ctrl+s, "
                      "ctrl+shift+t, PageDown")


class ScrollArgs(ActingArgs):
    x: int = Field(description="x in the last screenshot's pixels")
    y: int = Field(description="y in the last screenshot's pixels")
    dy: int = Field(ge=-MAX_SCROLL, le=MAX_SCROLL, description="Wheel clicks, + is down")
    dx: int = Field(default=0, ge=-MAX_SCROLL, le=MAX_SCROLL, description="Wheel clicks, + is right")


class DragArgs(ActingArgs):
    path: list[XY] = Field(min_length=2, max_length=50, description="Points in the last screenshot's pixels, "
                           "from press to release")


class WaitArgs(ActingArgs):
    seconds: float = Field(gt=0, le=MAX_WAIT_S, description=f"Seconds to wait, at most {MAX_WAIT_S:g}")


class FindTextArgs(ToolArgs):
    text: str = Field(min_length=1, max_length=200, description="Text to look for on a fresh screenshot")


class RunTaskArgs(ToolArgs):
    task: str = Field(min_length=1, max_length=4000, description="What to do, e.g. \"click 1, then click +\" "
                      "(the offline planner's instructions) or a goal for a configured model")
    model: str | None = Field(default=None, description="PROVIDER:MODEL (anthropic, openai-cua, openai, "
                              "ui-tars, offline); default: the server's configured model, else offline")
    max_steps: int | None = Field(default=None, ge=1, le=200, description="Stop after this many steps")


class ReplayArgs(ToolArgs):
    recording: str = Field(min_length=1, description="A recording folder (recordings/<timestamp>-<task>)")
    dry_run: bool = Field(default=False, description="Verify the targets on screen, perform nothing")


class ToolSpec(BaseModel):
    """One tool as listed: its name, what it does, and its arguments' model."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    name: str
    description: str
    args: type[ToolArgs]
    acts: bool = False  # goes through the executor: counts against the action budget

    def input_schema(self) -> dict[str, Any]:
        return self.args.model_json_schema()


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(name="screenshot", args=ScreenshotArgs,
             description="The screen as an image (its size is in the text part); with elements, the "
                         "numbered text and controls on it. Coordinates of the other tools are in this "
                         "image's pixels."),
    ToolSpec(name="click", args=ClickArgs, acts=True,
             description="Click at x,y of the last screenshot, on an element id, or on the control that "
                         "reads `text`. Guarded like every action: a refusal is an error with the reason."),
    ToolSpec(name="type_text", args=TypeTextArgs, acts=True,
             description="Type text into the focused window (guarded: a terminal line is checked as the "
                         "shell command it is)."),
    ToolSpec(name="press_key", args=PressKeyArgs, acts=True, description="Press a key or a chord such as ctrl+s."),
    ToolSpec(name="scroll", args=ScrollArgs, acts=True, description="Scroll the wheel at x,y."),
    ToolSpec(name="drag", args=DragArgs, acts=True, description="Press at the first point, move through the "
                                                                "others, release at the last."),
    ToolSpec(name="wait", args=WaitArgs, acts=True, description="Wait, then let the screen settle."),
    ToolSpec(name="find_text", args=FindTextArgs,
             description="Where `text` is on screen: the matches with boxes (last screenshot's pixels) and "
                         "scores, best first."),
    ToolSpec(name="run_task", args=RunTaskArgs,
             description="Run a whole task with uiagent's own loop (perceive, plan, act, recorded); "
                         "progress is reported per step. Returns the outcome and the recording's path."),
    ToolSpec(name="replay", args=ReplayArgs,
             description="Replay a recording: each target is verified on screen before acting. Returns "
                         "what was done, relocated and skipped."),
)
TOOLS_BY_NAME = {t.name: t for t in TOOLS}


def call_text(tool: str, arguments: Mapping[str, Any]) -> str:
    """The tool call as the recording keeps it (the step's raw output)."""
    return json.dumps({"tool": tool, "arguments": dict(arguments)}, sort_keys=True, default=str)
