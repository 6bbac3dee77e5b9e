"""The cache-hit path of regression tests: replay cached actions with target verification.

`replay_cached` is the seam to `agent.replay` (written on the `replay` branch). Until it lands,
`_interim_replay` does the same job with a simpler check: each pointer target's recorded crop must
still look the same at the same place (no relocation). Either way the actions run through the
loop context's executor (guards included) and are recorded as one step: there is one way to act.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from actions.desktop import Screenshot
from actions.models import Action, action_point
from agent.loop import LoopContext
from agent.planners.base import Turn
from agent.step_builder import StepBuilder, target_box

log = logging.getLogger(__name__)

MAX_MEAN_DIFF = 18.0  # mean absolute pixel difference (0-255) under which a crop is the same target


@dataclass(frozen=True)
class CachedReplay:
    """How a replay of cached actions went. `actions` are the ones performed (relocated if moved)."""

    ok: bool
    reason: str = ""
    failed_action: int | None = None   # 0-based index into the cached actions
    actions: tuple[Action, ...] = ()


def replay_cached(actions: Sequence[Action], crops: Mapping[str, Image.Image], ctx: LoopContext) -> CachedReplay:
    """Replay `actions` (screen space) on ctx's desktop, verifying each pointer target first."""
    # When `agent.replay` lands this line becomes:
    #     return _from_replay(replay_actions(actions, crops, ctx))
    return _interim_replay(actions, crops, ctx)


def _from_replay(result: object) -> CachedReplay:  # pragma: no cover - used once agent.replay lands
    """Map agent.replay's ReplayResult(status, steps_ok, failed_step, reason, skipped, folder)."""
    failed = getattr(result, "failed_step", None)
    return CachedReplay(ok=failed is None and getattr(result, "status", "") in ("done", "ok", "passed"),
                        reason=str(getattr(result, "reason", "")), failed_action=failed)


def _interim_replay(actions: Sequence[Action], crops: Mapping[str, Image.Image], ctx: LoopContext) -> CachedReplay:
    step = StepBuilder(1, ctx.recorder, ctx.clock)
    obs = step.observe(ctx.perceiver, None, elements=False)
    shot: Screenshot = obs.screenshot
    results = []
    notes: list[str] = ["replayed from the step cache (no model call)"]
    failure: CachedReplay | None = None
    for i, action in enumerate(actions):
        problem = verify(action, crops, shot)
        if problem:
            failure = CachedReplay(ok=False, reason=f"{action.describe()}: {problem}", failed_action=i)
            notes.append(f"verification failed: {failure.reason}")
            break
        result = step.act(ctx.executor, action, action)
        results.append(result)
        if not result.ok:
            failure = CachedReplay(ok=False, reason=result.describe(), failed_action=i)
            break
        shot = step.settle(ctx.settle, shot).screenshot
    turn = Turn(reasoning="cache hit", actions=tuple(actions), prompt_ref="step-cache")
    ctx.recorder.append(step.finish(turn, results, notes))
    return failure or CachedReplay(ok=True, actions=tuple(actions))


def verify(action: Action, crops: Mapping[str, Image.Image], shot: Screenshot) -> str:
    """'' when the action's target looks as recorded; else why not."""
    target = getattr(action, "target", None)
    point = action_point(action)
    if point is None or target is None or not target.crop_hash:
        return ""
    crop = crops.get(target.crop_hash)
    if crop is None:
        return f"its target crop {target.crop_hash}.png is missing from the cache"
    box = target_box(point.x, point.y, target, shot)
    now = shot.image.crop((box.left - shot.left, box.top - shot.top, box.right - shot.left, box.bottom - shot.top))
    if now.size != crop.size:
        return f"the target area is {now.size[0]}x{now.size[1]} now, {crop.size[0]}x{crop.size[1]} when cached"
    diff = float(np.abs(np.asarray(now.convert("RGB"), dtype=np.int16)
                        - np.asarray(crop.convert("RGB"), dtype=np.int16)).mean())
    if diff > MAX_MEAN_DIFF:
        label = f" {target.label!r}" if target.label else ""
        return f"the target{label} at ({point.x}, {point.y}) looks different now (mean difference {diff:.0f})"
    return ""
