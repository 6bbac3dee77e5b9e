"""The cache-hit path of regression tests: replay cached actions with target verification.

`replay_cached` is the seam to `agent.replay.replay_actions` (verify target -> relocate -> act ->
check, through the loop context's executor and guards: there is one way to act). `_interim_replay`
is the simpler check used before replay landed (a target's cached crop must look the same at the
same place, no relocation); it is kept for `--uiagent-cache`'s unit tests and as a fallback.
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
from agent.replay import ReplayResult, replay_actions
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
    return _from_replay(replay_actions(actions, crops, ctx, task="cached ui.do step"))


def _from_replay(result: ReplayResult) -> CachedReplay:
    """Map agent.replay's ReplayResult (action i is its step i + 1)."""
    failed = result.failed_step - 1 if result.failed_step is not None else None
    return CachedReplay(ok=result.status == "done" and failed is None, reason=result.reason, failed_action=failed)


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
