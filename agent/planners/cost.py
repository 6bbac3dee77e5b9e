"""Tokens and money: image-token formulas, prices, and the budget guard the planners consult.

Image-token formulas follow vlm-api.md section 4. They are used to estimate usage when a server
reports none (`Usage.estimated`) and to predict the cost of the next call before it is made.
"""

from __future__ import annotations

import math
import threading

from actions.errors import BudgetExceeded
from agent.planners.base import Usage
from agent.planners.profiles import ModelProfile

CHARS_PER_TOKEN = 4
DEFAULT_OUTPUT_GUESS = 300  # output tokens assumed for a call before any was observed


def anthropic_image_tokens(width: int, height: int) -> int:
    """w*h/750 after the API's own downscale (long edge 1568, about 1.15 megapixels)."""
    factor = min(1.0, 1568 / max(width, height), math.sqrt(1_150_000 / (width * height)))
    w, h = width * factor, height * factor
    return math.ceil(w * h / 750)


def openai_tile_tokens(width: int, height: int, base: int = 85, per_tile: int = 170) -> int:
    """High detail: fit in 2048x2048, short side to 768, then base + per_tile * 512-tiles."""
    factor = min(1.0, 2048 / max(width, height))
    w, h = width * factor, height * factor
    factor = min(1.0, 768 / min(w, h))
    w, h = w * factor, h * factor
    return base + per_tile * math.ceil(w / 512) * math.ceil(h / 512)


def patch28_tokens(width: int, height: int) -> int:
    """Qwen2.5-VL / UI-TARS: one token per 28x28 patch (14 px patches merged 2x2), plus 2 markers."""
    return math.ceil(width / 28) * math.ceil(height / 28) + 2


def image_tokens(profile: ModelProfile, size: tuple[int, int]) -> int:
    w, h = size
    match profile.image_tokens:
        case "anthropic":
            return anthropic_image_tokens(w, h)
        case "openai-tile":
            return openai_tile_tokens(w, h, profile.tile_base, profile.tile_per)
        case "patch28":
            return patch28_tokens(w, h)
        case _:
            return 258  # a flat guess for servers with unknown accounting (Gemini's per-image figure)


def text_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def price(profile: ModelProfile, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
    """USD for one call; cached input is billed at the cached rate, the rest at the input rate."""
    fresh = max(0, input_tokens - cached_input_tokens)
    return (fresh * profile.price_input + cached_input_tokens * profile.price_cached_input
            + output_tokens * profile.price_output) / 1_000_000


def usage_of(profile: ModelProfile, input_tokens: int | None, output_tokens: int | None,
             cached_input_tokens: int = 0, *, estimate_input: int = 0, estimate_output: int = 0) -> Usage:
    """One call's Usage from what the server reported, or from estimates when it reported nothing."""
    estimated = input_tokens is None or output_tokens is None
    inp = input_tokens if input_tokens is not None else estimate_input
    out = output_tokens if output_tokens is not None else estimate_output
    return Usage(model_calls=1, input_tokens=inp, output_tokens=out, cached_input_tokens=cached_input_tokens,
                 cost_usd=price(profile, inp, out, cached_input_tokens), estimated=estimated)


class CostGuard:
    """Stops a run **before** the call that would take spending past `max_cost` (USD).

    The loop builds one from `--max-cost` and hands it to the planner (via the registry); the
    planner calls `check(estimate)` before every request and `add(usage)` after it. The loop can
    read `spent` and `usage` for its report. Thread-safe; `max_cost=None` never stops.
    """

    def __init__(self, max_cost: float | None = None) -> None:
        self.max_cost = max_cost
        self.usage = Usage()
        self._lock = threading.Lock()
        self._outputs: list[int] = []

    @property
    def spent(self) -> float:
        return self.usage.cost_usd

    def expected_output_tokens(self) -> int:
        """The largest recent output, or a guess before any call."""
        return max(self._outputs[-5:], default=DEFAULT_OUTPUT_GUESS)

    def check(self, estimated_cost: float, what: str = "the next model call") -> None:
        if self.max_cost is None:
            return
        with self._lock:
            if self.usage.cost_usd + estimated_cost > self.max_cost:
                raise BudgetExceeded(
                    f"cost budget: ${self.usage.cost_usd:.4f} spent, {what} would cost about "
                    f"${estimated_cost:.4f}, over --max-cost ${self.max_cost:.4f}")

    def add(self, usage: Usage) -> None:
        with self._lock:
            self.usage = self.usage + usage
            self._outputs.append(usage.output_tokens)
