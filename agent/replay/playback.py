"""Replay: a recording played back through the agent loop, verifying every target before acting.

    result = replay_recording(load_recording(folder), display=":1", settings=settings)
    result = replay_actions(actions, crops, ctx)          # e.g. cached test steps (pytest plugin)

Replay is `run_task` with a `RecordedPlanner` (agent.replay.recorded): for each recorded action,
the screen settles (the loop), the target is verified and relocated (`verify_target`), the action
goes through the same `Executor` and guards as a live step, and the screen must change where the
recording's did. A check that fails stops the replay with status "failed" (exit 1) and a reason
that names the step, the expected crop and what was found; nothing is performed for that step.
The replay writes its own recording (Session.kind "replay", `replay_of` the original folder).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict

from actions.errors import UnsafeRecording
from actions.executor import ConfirmCallback, decline_all
from actions.models import Action
from agent.perception.verify import Verification, verify_target
from agent.recording.format import Outcome, Recording, Step
from agent.replay.recorded import RecordedPlanner, ReplayItem, ReplayOptions, plan_steps, split_turns
from agent.run.loop import LoopContext, run_task
from agent.settings import Settings

__all__ = ["ReplayOptions", "ReplayResult", "Verification", "replay_actions", "replay_recording", "verify_target"]

log = logging.getLogger(__name__)

EXIT_CODES = {"done": 0, "failed": 1, "stopped": 3}


class ReplayResult(BaseModel):
    """How a replay ended. `steps_ok` counts recorded steps replayed in full; `failed_step` is the
    recorded step index that stopped it; `skipped` lists what could not be replayed and why."""

    model_config = ConfigDict(frozen=True)
    status: Literal["done", "failed", "stopped"]
    steps_ok: int
    failed_step: int | None = None
    reason: str
    skipped: list[str] = []
    folder: Path | None = None
    verification: Verification | None = None   # the check that failed, if one did
    warnings: list[str] = []                   # about the recording (truncated, missing frames)
    outcome: Outcome = Outcome()

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def replay_actions(actions: Sequence[Action], crops: Mapping[str, Image.Image], ctx: LoopContext, *,
                   options: ReplayOptions | None = None, task: str = "replay") -> ReplayResult:
    """Replay `actions` (screen space, pointer actions with `target.crop_hash` keys into `crops`)
    through the loop of `ctx`, whose planner is replaced by a RecordedPlanner. Action i is step i+1.
    The caller owns `ctx.recorder` (started, with kind "replay"); it is finished here, not closed."""
    items: list[ReplayItem] = []
    for i, action in enumerate(actions, 1):
        if action.kind not in ("done", "fail"):
            items += split_turns(i, [action])
    return _drive(ctx, RecordedPlanner(items, crops, options or ReplayOptions()), task, [], [])


def replay_recording(recording: Recording, *, display: str, settings: Settings,
                     options: ReplayOptions | None = None, first: int | None = None, last: int | None = None,
                     confirm: ConfirmCallback = decline_all, on_step: Callable[[Step], None] = lambda s: None,
                     stop: threading.Event | None = None) -> ReplayResult:
    """Replay `recording` on `display` (steps `first`..`last`, recorded indexes, inclusive) into a
    new recording under settings.record_dir; the original folder is only read."""
    from agent.run.wiring import live_context

    options = options or ReplayOptions()
    if settings.dry_run:
        options = dataclasses.replace(options, check_changes=False)
    if recording.session.kind == "record":
        options = dataclasses.replace(options, strict_changes=False)
    crops, warnings = load_crops(recording)
    plan = plan_steps(recording.steps, crops, first=first, last=last, verify=options.verify)
    planner = RecordedPlanner(plan.items, crops, options, frames=_frame_loader(recording))
    with live_context(recording.session.task, settings, display, planner, confirm=confirm, on_step=on_step,
                      stop=stop, kind="replay", replay_of=str(recording.folder.resolve())) as ctx:
        return _drive(ctx, planner, recording.session.task, plan.skipped,
                      [*recording.warnings, *warnings])


def _frame_loader(recording: Recording) -> Callable[[str], Image.Image | None]:
    """Recorded frames, read on demand (only to judge a step after which the screen did not change)."""
    def load(name: str) -> Image.Image | None:
        try:
            with recording.open_frame(name) as f, Image.open(f) as image:
                return image.convert("RGB")
        except (OSError, UnidentifiedImageError, UnsafeRecording):
            return None
    return load


def load_crops(recording: Recording) -> tuple[dict[str, Image.Image], list[str]]:
    """The target crops a recording references; missing or unreadable ones are left out (and said)."""
    crops: dict[str, Image.Image] = {}
    bad: list[str] = []
    for step in recording.steps:
        for crop_hash in step.crops():
            if crop_hash in crops:
                continue
            try:
                with recording.open_crop(crop_hash) as f, Image.open(f) as image:
                    crops[crop_hash] = image.convert("RGB")
            except (OSError, UnidentifiedImageError, UnsafeRecording):
                bad.append(f"{crop_hash}.png")
    warnings = [(f"{len(bad)} crop(s) missing or unreadable in {recording.folder / 'crops'}: "
                 f"{', '.join(sorted(set(bad))[:5])}")] if bad else []
    return crops, warnings


def _drive(ctx: LoopContext, planner: RecordedPlanner, task: str, skipped: list[str],
           warnings: list[str]) -> ReplayResult:
    settings = ctx.settings
    turns = 3 * len(planner.items) + 2 * int(planner.options.patience_s / planner.options.poll_s) + 10
    if settings.max_steps < turns:
        settings = settings.model_copy(update={"max_steps": min(1000, turns)})
    outcome = run_task(task, dataclasses.replace(ctx, planner=planner, settings=settings))
    status: Literal["done", "failed", "stopped"] = (
        outcome.status if outcome.status in ("done", "failed", "stopped") else "failed")
    reason = outcome.reason
    failure = planner.failure
    if failure is not None:
        failure = _keep_evidence(ctx, planner, failure)
        reason = _failure_reason(reason, planner, failure, ctx.recorder.folder)
    if skipped and status == "done":
        reason += f"; skipped {len(skipped)}: " + "; ".join(skipped)
    warnings = [*warnings, *planner.notes]
    log.info("replay %s: %s", status, reason)
    failed = planner.failed_step if status != "done" else None
    return ReplayResult(status=status, steps_ok=len(planner.steps_played), failed_step=failed, reason=reason,
                        skipped=skipped, folder=ctx.recorder.folder, verification=failure, warnings=warnings,
                        outcome=outcome.model_copy(update={"reason": reason}))


def _keep_evidence(ctx: LoopContext, planner: RecordedPlanner, v: Verification) -> Verification:
    """Store what was expected and what was found in the replay's own recording (crops/)."""
    try:
        found = None
        shot = _last_screen(ctx)
        if v.found_box is not None and shot is not None:
            b = v.found_box
            found = ctx.recorder.add_crop(shot.crop((b.left, b.top, b.right, b.bottom)))
        expected = _expected_crop(planner, v)
        if expected is not None:
            ctx.recorder.add_crop(expected)
        ctx.recorder.flush()
        return v.model_copy(update={"found_crop": found})
    except Exception as e:  # evidence is best effort; the failure itself is already recorded
        log.warning("could not store the replay's failure crops: %s", e)
        return v


def _last_screen(ctx: LoopContext) -> Image.Image | None:
    try:
        return ctx.desktop.capture().image
    except Exception:
        return None


def _expected_crop(planner: RecordedPlanner, v: Verification) -> Image.Image | None:
    target = getattr(v.action, "target", None)
    return planner.crops.get(target.crop_hash) if target is not None and target.crop_hash else None


def _failure_reason(reason: str, planner: RecordedPlanner, v: Verification, folder: Path | None) -> str:
    target = getattr(v.action, "target", None)
    expected = f"crops/{target.crop_hash}.png" if target is not None and target.crop_hash else "no crop"
    found = "nothing like it"
    if v.found_box is not None:
        b = v.found_box
        found = f"the best candidate at ({b.left}, {b.top}, {b.right}, {b.bottom}), score {v.score:.2f}"
        if v.found_crop and folder is not None:
            found += f" (crops/{v.found_crop}.png in the replay)"
    return f"{reason}; expected {expected} of the recording, found {found}; nothing was performed for this step"
