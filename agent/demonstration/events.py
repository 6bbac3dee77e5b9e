"""What a human demonstration is made of before merging: raw key, button and motion events in
server order (from `agent.demonstration.listener`), and the simplification of a dragged path."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KeyEvent:
    """A key press or release. `name` is the canonical name of the key's unshifted keysym ("" when
    it has none); `char` the character it types with the current shift state, if printable."""

    t: float
    pressed: bool
    keycode: int
    name: str
    char: str | None = None
    sensitive: bool = False
    context: Any = None


@dataclass(frozen=True)
class ButtonEvent:
    """A pointer button press/release at a screen point; X buttons 4-7 are wheel ticks."""

    t: float
    pressed: bool
    button: int
    x: int
    y: int
    context: Any = None


@dataclass(frozen=True)
class MotionEvent:
    t: float
    x: int
    y: int


RawEvent = KeyEvent | ButtonEvent | MotionEvent


def simplify_path(points: Sequence[tuple[int, int]], epsilon: float = 3.0,
                  max_points: int = 24) -> list[tuple[int, int]]:
    """Ramer-Douglas-Peucker with consecutive duplicates removed; the tolerance doubles until the
    path has at most `max_points`. First and last points are always kept (at least two)."""
    pts = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    if len(pts) < 2:
        return [pts[0], pts[0]] if pts else []
    eps = epsilon
    while True:
        keep = _rdp(pts, eps)
        if len(keep) <= max(max_points, 2):
            return keep
        eps *= 2


def _rdp(pts: list[tuple[int, int]], eps: float) -> list[tuple[int, int]]:
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        best, index = -1.0, -1
        for i in range(a + 1, b):
            d = _segment_distance(pts[i], pts[a], pts[b])
            if d > best:
                best, index = d, i
        if index >= 0 and best > eps:
            keep[index] = True
            stack += [(a, index), (index, b)]
    return [p for p, k in zip(pts, keep) if k]


def _segment_distance(p: tuple[int, int], a: tuple[int, int], b: tuple[int, int]) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    if dx == 0 and dy == 0:
        return math.dist(p, a)
    u = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.dist(p, (ax + u * dx, ay + u * dy))
