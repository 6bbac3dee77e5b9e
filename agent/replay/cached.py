"""The cache-hit path of regression tests: replay cached actions with target verification.

`replay_cached` is the seam to `agent.replay.playback.replay_actions` (verify target -> relocate -> act ->
check, through the loop context's executor and guards: there is one way to act).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PIL import Image

from actions.models import Action
from agent.replay.playback import ReplayResult, replay_actions
from agent.run.loop import LoopContext

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class CachedReplay:
    """How a replay of cached actions went."""

    ok: bool
    reason: str = ""
    failed_action: int | None = None   # 0-based index into the cached actions


def replay_cached(actions: Sequence[Action], crops: Mapping[str, Image.Image], ctx: LoopContext) -> CachedReplay:
    """Replay `actions` (screen space) on ctx's desktop, verifying each pointer target first."""
    return _from_replay(replay_actions(actions, crops, ctx, task="cached ui.do step"))


def _from_replay(result: ReplayResult) -> CachedReplay:
    """Map agent.replay.playback's ReplayResult (action i is its step i + 1)."""
    failed = result.failed_step - 1 if result.failed_step is not None else None
    return CachedReplay(ok=result.status == "done" and failed is None, reason=result.reason, failed_action=failed)
