"""The action language: what a planner may ask the desktop to do, always in screen space.

`Action` is a discriminated union of frozen pydantic models keyed by `kind`. Validation lives
here, so a bad action fails at the boundary with a pydantic error naming the field, never later
in the executor. `action_json_schema()` is the schema handed to models for function calling.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from actions.errors import UsageError
from actions.keys import MODIFIERS, format_chord, parse_chord

Button = Literal["left", "right", "middle"]
MAX_WAIT_S = 60.0
MAX_TEXT = 10_000
MAX_SCROLL = 100


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Point(_Frozen):
    x: int = Field(description="Screen x in physical pixels")
    y: int = Field(description="Screen y in physical pixels")


class Box(_Frozen):
    """An axis-aligned box in screen space, left/top inclusive, right/bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def center(self) -> Point:
        return Point(x=(self.left + self.right) // 2, y=(self.top + self.bottom) // 2)

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def contains(self, x: int, y: int) -> bool:
        return self.left <= x < self.right and self.top <= y < self.bottom


class Target(_Frozen):
    """What a pointer action aims at, kept so replay can check it is still the same thing."""

    label: str | None = Field(default=None, description="Visible text or accessible name of the target")
    role: str | None = Field(default=None, description="Accessible role or element kind, when known")
    bbox: Box | None = Field(default=None, description="The target's box in screen space")
    crop_hash: str | None = Field(default=None, description="Hash of the recorded crop around the point")
    mark: int | None = Field(default=None, description="Set-of-Mark id the model chose, if any")


def _modifiers(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (str, list, tuple)) or not all(isinstance(v, str) for v in
                                                             (value if isinstance(value, (list, tuple)) else [value])):
        raise ValueError("modifiers must be a chord such as ctrl+shift or a list of key names")
    keys = parse_chord(value) if value else ()
    bad = [k for k in keys if k not in MODIFIERS]
    if bad:
        raise ValueError(f"not modifier keys: {', '.join(bad)} (use ctrl, alt, shift, super)")
    return keys


class _ActionBase(_Frozen):
    def describe(self) -> str:
        """A short human-readable line, for logs and the terminal."""
        return self.kind  # type: ignore[attr-defined,no-any-return]


class _PointerBase(_ActionBase):
    modifiers: tuple[str, ...] = Field(default=(), description="Modifier keys held during the action")
    target: Target | None = Field(default=None, description="What the pointer aims at (for replay)")

    @field_validator("modifiers", mode="before")
    @classmethod
    def _check_modifiers(cls, value: Any) -> tuple[str, ...]:
        try:
            return _modifiers(value)
        except UsageError as e:
            raise ValueError(str(e)) from None


class Click(_PointerBase):
    kind: Literal["click"] = "click"
    x: int = Field(description="Screen x")
    y: int = Field(description="Screen y")
    button: Button = "left"
    count: int = Field(default=1, ge=1, le=3, description="1 click, 2 double, 3 triple")

    def describe(self) -> str:
        name = {1: "click", 2: "double-click", 3: "triple-click"}[self.count]
        btn = "" if self.button == "left" else f"{self.button}-"
        mods = f"{format_chord(self.modifiers)}+" if self.modifiers else ""
        label = f" {self.target.label!r}" if self.target and self.target.label else ""
        return f"{mods}{btn}{name}{label} at ({self.x}, {self.y})"


class Move(_PointerBase):
    kind: Literal["move"] = "move"
    x: int
    y: int

    def describe(self) -> str:
        return f"move to ({self.x}, {self.y})"


class Drag(_PointerBase):
    kind: Literal["drag"] = "drag"
    path: tuple[Point, ...] = Field(min_length=2, description="Points from press to release")
    button: Button = "left"

    def describe(self) -> str:
        a, b = self.path[0], self.path[-1]
        return f"drag ({a.x}, {a.y}) -> ({b.x}, {b.y})"


class Scroll(_PointerBase):
    kind: Literal["scroll"] = "scroll"
    x: int
    y: int
    dx: int = Field(default=0, ge=-MAX_SCROLL, le=MAX_SCROLL, description="Wheel clicks, + is right")
    dy: int = Field(default=0, ge=-MAX_SCROLL, le=MAX_SCROLL, description="Wheel clicks, + is down")

    def describe(self) -> str:
        return f"scroll dx={self.dx} dy={self.dy} at ({self.x}, {self.y})"


class Type(_ActionBase):
    kind: Literal["type"] = "type"
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="Text to type; \\n presses Enter")

    def describe(self) -> str:
        shown = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return f"type {shown!r}"


class Key(_ActionBase):
    kind: Literal["key"] = "key"
    chord: str = Field(description="Key chord such as ctrl+shift+t, Return, Escape, PageDown")

    @field_validator("chord", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> str:
        if not isinstance(value, (str, list, tuple)):
            raise ValueError("chord must be a string such as ctrl+s")
        try:
            return format_chord(parse_chord(value))
        except UsageError as e:
            raise ValueError(str(e)) from None

    @property
    def keys(self) -> tuple[str, ...]:
        return parse_chord(self.chord)

    def describe(self) -> str:
        return f"press {self.chord}"


class Wait(_ActionBase):
    kind: Literal["wait"] = "wait"
    seconds: float = Field(gt=0, le=MAX_WAIT_S, description=f"Seconds to wait, at most {MAX_WAIT_S:g}")

    def describe(self) -> str:
        return f"wait {self.seconds:g}s"


class Done(_ActionBase):
    kind: Literal["done"] = "done"
    summary: str = Field(default="", max_length=4000, description="What was achieved")

    def describe(self) -> str:
        return f"done: {self.summary}" if self.summary else "done"


class Fail(_ActionBase):
    kind: Literal["fail"] = "fail"
    reason: str = Field(max_length=4000, description="Why the task cannot be completed")

    def describe(self) -> str:
        return f"fail: {self.reason}"


Action = Annotated[
    Union[Click, Move, Drag, Scroll, Type, Key, Wait, Done, Fail],
    Field(discriminator="kind"),
]
PointerAction = Click | Move | Drag | Scroll
TERMINAL_KINDS = frozenset({"done", "fail"})

ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
ACTIONS_ADAPTER: TypeAdapter[list[Action]] = TypeAdapter(list[Action])


def parse_action(data: Any) -> Action:
    """Validate a dict (or JSON string) into an Action; raises pydantic.ValidationError."""
    if isinstance(data, (str, bytes)):
        return ACTION_ADAPTER.validate_json(data)
    return ACTION_ADAPTER.validate_python(data)


def action_json_schema() -> dict[str, Any]:
    """JSON schema of one Action, with `$defs`, usable as function-calling parameters."""
    return ACTION_ADAPTER.json_schema()


def action_point(action: Action) -> Point | None:
    """The screen point a pointer action acts on (a drag's start), else None."""
    match action:
        case Click() | Move() | Scroll():
            return Point(x=action.x, y=action.y)
        case Drag():
            return action.path[0]
        case _:
            return None


def action_points(action: Action) -> tuple[Point, ...]:
    """Every screen point a pointer action touches (all of a drag's path)."""
    if isinstance(action, Drag):
        return action.path
    point = action_point(action)
    return (point,) if point else ()


def validation_message(error: Exception) -> str:
    """One line for a pydantic ValidationError: `field.path: message; ...`."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return str(error).splitlines()[0]
    parts = []
    for item in errors()[:3]:
        loc = ".".join(str(p) for p in item.get("loc", ()) if not str(p).startswith("tagged-union"))
        msg = str(item.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


# --------------------------------------------------------------------------- results
# Values that cross from the executor to planners and recordings (planners never import the executor).

Decision = Literal["allow", "deny", "confirm"]
Status = Literal["performed", "denied", "declined", "invalid", "failed"]


class Verdict(BaseModel):
    """What the guards decided about one action."""

    model_config = ConfigDict(frozen=True)
    decision: Decision = "allow"
    reason: str = ""
    guard: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"


ALLOW = Verdict()


class ActionResult(BaseModel):
    """The outcome of one action, as the planner and the recording see it."""

    model_config = ConfigDict(frozen=True)
    action: Action | None
    status: Status
    verdict: Verdict = ALLOW
    error: str | None = None
    started_at: float = 0.0     # wall clock (time.time)
    guard_ms: float = 0.0
    act_ms: float = 0.0
    wait_ms: float = 0.0        # waiting for the target to be actionable (actions.readiness)
    verified: bool | None = None  # typed text read back in the field; None: not checked
    verify_note: str | None = None  # how it was checked, or why it could not be

    @property
    def ok(self) -> bool:
        return self.status == "performed"

    def describe(self) -> str:
        what = self.action.describe() if self.action else "invalid action"
        return what if self.ok else f"{what}: {self.status}: {self.error or self.verdict.reason}"
