"""From a model's named call (`click`, {"mark": 12}) to an Action in screen space.

Chat-style planners (function tools, JSON in text, UI-TARS strings) all end here. A `Grounder`
knows the image the model saw and how it points (marks or coordinates in a convention); every
bad field becomes a `PlannerOutputError` with a message short enough to send back to the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from actions.errors import PlannerOutputError, UsageError
from actions.keys import parse_chord
from actions.models import (
    Action,
    Click,
    Done,
    Drag,
    Fail,
    Key,
    Move,
    Point,
    Scroll,
    Target,
    Type,
    Wait,
    validation_message,
)
from agent.perception.observation import Observation
from agent.perception.scaling import Convention, ImageSpace, image_to_screen, in_image
from agent.planners.parsing import numbers

Mode = Literal["marks", "coordinates"]

# name -> (kind, button, count)
_CLICKS: dict[str, tuple[str, int]] = {
    "click": ("left", 1), "left_click": ("left", 1), "left_single": ("left", 1), "tap": ("left", 1),
    "double_click": ("left", 2), "left_double": ("left", 2), "doubleclick": ("left", 2), "dblclick": ("left", 2),
    "triple_click": ("left", 3), "right_click": ("right", 1), "right_single": ("right", 1),
    "middle_click": ("middle", 1),
}
_ALIASES = {
    "mouse_move": "move", "hover": "move", "move_to": "move", "left_click_drag": "drag", "drag_and_drop": "drag",
    "select": "drag", "type_text": "type", "input_text": "type", "write": "type", "input": "type",
    "hotkey": "key", "press": "key", "keypress": "key", "key_press": "key", "press_key": "key",
    "sleep": "wait", "finish": "done", "finished": "done", "answer": "done", "complete": "done",
    "call_user": "fail", "give_up": "fail", "failed": "fail",
}
_DIRECTIONS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
_MARK_KEYS = ("mark", "mark_id", "id", "element", "element_id", "index", "som")


def _first(args: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in args and args[key] is not None:
            return args[key]
    return None


def _text(value: Any, what: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise PlannerOutputError(f"{what} must be a string, got {value!r}"[:200])
    return value


def modifiers_arg(value: Any) -> tuple[str, ...]:
    """Held keys from a chord string or a list of key names (canonical names); else an error."""
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
        try:
            return parse_chord(value)
        except UsageError as e:
            raise PlannerOutputError(str(e)) from None
    raise PlannerOutputError(f"modifiers must be key names such as ['ctrl'], got {value!r}"[:200])


@dataclass(frozen=True)
class Grounder:
    """Converts calls against one image: `space` (what the model saw), `mode`, `convention`."""

    space: ImageSpace
    observation: Observation
    mode: Mode = "coordinates"
    convention: Convention = "pixels"

    # ------------------------------------------------------------------ points
    def point(self, args: dict[str, Any], prefix: str = "", required: bool = True) -> tuple[Point, Target | None, str]:
        """The screen point a call aims at, its Target (for marks) and the model's own wording."""
        if self.mode == "marks":
            mark = _first(args, *(prefix + k for k in _MARK_KEYS)) if prefix else _first(args, *_MARK_KEYS)
            if mark is not None:
                return self._mark(mark)
        else:
            found = self._coordinate(args, prefix)
            if found is not None:
                return found
        if not required:
            c = self.space.region.center
            return Point(x=c.x, y=c.y), None, "centre"
        need = f"{prefix}mark" if self.mode == "marks" else f"{prefix}x and {prefix}y"
        raise PlannerOutputError(f"missing {need}")

    def _mark(self, value: Any) -> tuple[Point, Target, str]:
        nums = numbers(value)
        if len(nums) != 1 or not nums[0].is_integer():
            raise PlannerOutputError(f"mark must be one mark number, got {value!r}"[:200])
        mark = int(nums[0])
        element = self.observation.element(mark)
        if element is None:
            ids = [e.id for e in self.observation.elements]
            span = f"{min(ids)}..{max(ids)}" if ids else "none on this screen"
            raise PlannerOutputError(f"mark {mark} does not exist (marks: {span})")
        c = element.box.center
        target = Target(label=element.text or None, role=element.role, bbox=element.box, mark=mark)
        return Point(x=c.x, y=c.y), target, f"mark {mark}"

    def _coordinate(self, args: dict[str, Any], prefix: str) -> tuple[Point, None, str] | None:
        x, y = args.get(prefix + "x"), args.get(prefix + "y")
        if x is not None or y is not None:
            nums = numbers([x, y])
            if len(nums) != 2:
                raise PlannerOutputError(f"{prefix}x and {prefix}y must be numbers, got {x!r}, {y!r}"[:200])
            return self._to_screen(nums[0], nums[1], f"({x},{y})")
        keys = (("start_coordinate", "start_box", "start_point", "from") if prefix == "from_" else
                ("end_coordinate", "end_box", "end_point", "to") if prefix == "to_" else
                ("coordinate", "coordinates", "point", "position", "box", "bbox", "start_box"))
        raw = _first(args, *keys)
        if raw is None:
            return None
        nums = numbers(raw)
        if len(nums) == 4:  # a box: its centre
            nums = [(nums[0] + nums[2]) / 2, (nums[1] + nums[3]) / 2]
        if len(nums) != 2:
            raise PlannerOutputError(f"a point needs 2 numbers (or a box 4), got {raw!r}"[:200])
        return self._to_screen(nums[0], nums[1], str(raw)[:60])

    def _to_screen(self, x: float, y: float, raw: str) -> tuple[Point, None, str]:
        if not (math.isfinite(x) and math.isfinite(y)) or not in_image(self.space, x, y, self.convention):
            size = {"pixels": f"{self.space.width}x{self.space.height} pixels", "grid1000": "the 0-1000 grid",
                    "fraction": "0-1"}[self.convention]
            raise PlannerOutputError(f"point {raw} is outside the image ({size})")
        w, h = self.space.size
        return image_to_screen(self.space, x, y, self.convention), None, f"{raw}@{self.convention}:{w}x{h}"

    # ------------------------------------------------------------------ calls
    def action(self, name: Any, args: Any) -> tuple[Action, str]:
        """One call as (Action in screen space, the model's coordinates as it gave them)."""
        if not isinstance(name, str) or not name.strip():
            raise PlannerOutputError(f"missing action name, got {name!r}"[:200])
        if not isinstance(args, dict):
            raise PlannerOutputError(f"arguments of {name!r} must be an object"[:200])
        kind = name.strip().lower().replace("-", "_").replace(" ", "_")
        kind = _ALIASES.get(kind, kind)
        try:
            return self._build(kind, args)
        except ValidationError as e:
            raise PlannerOutputError(f"{kind}: {validation_message(e)}") from None
        except (TypeError, ValueError, OverflowError) as e:
            raise PlannerOutputError(f"{kind}: {e}"[:200]) from None

    def _build(self, kind: str, args: dict[str, Any]) -> tuple[Action, str]:
        mods = modifiers_arg(args.get("modifiers"))
        if kind in _CLICKS:
            button, count = _CLICKS[kind]
            button = {"wheel": "middle"}.get(str(args.get("button", button)), str(args.get("button", button)))
            count = int(args.get("count") or count)
            p, target, raw = self.point(args)
            return Click(x=p.x, y=p.y, button=button, count=count, modifiers=mods, target=target), raw  # type: ignore[arg-type]
        match kind:
            case "move":
                p, target, raw = self.point(args)
                return Move(x=p.x, y=p.y, target=target), raw
            case "drag":
                a, _, raw_a = self.point(args, "from_")
                b, target, raw_b = self.point(args, "to_")
                return Drag(path=(a, b), modifiers=mods, target=target), f"{raw_a} -> {raw_b}"
            case "scroll":
                return self._scroll(args, mods)
            case "type":
                return Type(text=_text(_first(args, "text", "content", "value", "string"), "text")), ""
            case "key":
                keys = _first(args, "chord", "keys", "key", "text", "combination")
                if isinstance(keys, (list, tuple)):
                    keys = "+".join(str(k) for k in keys)
                return Key(chord=_text(keys, "chord")), ""
            case "wait":
                seconds = numbers(_first(args, "seconds", "time", "duration"))
                return Wait(seconds=min(60.0, max(0.1, seconds[0] if seconds else 1.0))), ""
            case "done" | "terminate":
                if kind == "terminate" and str(args.get("status", "success")).lower().startswith("fail"):
                    return Fail(reason=str(_first(args, "reason", "content", "text") or "the model gave up")), ""
                return Done(summary=str(_first(args, "summary", "content", "text", "answer") or "")[:4000]), ""
            case "fail":
                reason = _first(args, "reason", "content", "text", "question") or "the model asked for help"
                return Fail(reason=str(reason)[:4000]), ""
            case _:
                raise PlannerOutputError(f"unknown action {kind!r}: use click, move, drag, scroll, type, key, "
                                         "wait, done or fail")

    def _scroll(self, args: dict[str, Any], mods: Any) -> tuple[Action, str]:
        p, target, raw = self.point(args, required=False)
        dx, dy = numbers(args.get("dx", 0)), numbers(args.get("dy", 0))
        x, y = int(dx[0]) if dx else 0, int(dy[0]) if dy else 0
        direction = args.get("direction") or args.get("scroll_direction")
        if direction is not None:
            if str(direction).lower() not in _DIRECTIONS:
                raise PlannerOutputError(f"direction must be up, down, left or right, got {direction!r}"[:200])
            amount = numbers(_first(args, "amount", "scroll_amount", "clicks")) or [3.0]
            sx, sy = _DIRECTIONS[str(direction).lower()]
            x, y = sx * int(amount[0]), sy * int(amount[0])
        if x == 0 and y == 0:
            raise PlannerOutputError("scroll needs dy (down > 0) or dx (right > 0), or a direction")
        return Scroll(x=p.x, y=p.y, dx=x, dy=y, modifiers=mods, target=target), raw
