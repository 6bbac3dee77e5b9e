"""The recorded planner: replay is the agent loop with a planner that plays a recording back.

Each turn is one `ReplayItem`: a pointer action (and the typing that followed it in the same
recorded step), or a run of key/type/wait actions. Before handing out a pointer action the planner
verifies its target on the current screen (`verify_target`) and returns it relocated; key and type
actions are checked against the focused application recorded before them. After an item whose
recorded screen changed, the next observation must differ from the one before the item.

It never hands out an action on a low-confidence match. A check that fails is retried by waiting
(`Wait(poll_s)` turns, up to `patience_s`; the screen may still be catching up), then the turn is
`Fail(reason)` and `failure` keeps the Verification. A weak or ambiguous crop match with a recorded
label gets one empty turn with `needs_elements` set, so the loop perceives text for the next look.
Executing is the loop's job: the same executor and guards as any live step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from actions.desktop.base import WindowInfo
from actions.models import Action, Click, Done, Drag, Fail, Move, Scroll, Type, Wait, action_point
from agent.perception.capture import fingerprint
from agent.perception.match import gray
from agent.perception.observation import Observation
from agent.perception.regions import diff_bbox
from agent.perception.verify import ACCEPT, Verification, verify_target
from agent.planners.base import Capabilities, HistoryItem, Turn
from agent.recording.format import REDACTED

_MIN_WAIT_S = 0.001
_SOFT_WAIT_S = 0.5
_SAME_GREY = 6.0  # mean grey-level difference under which two regions look the same


@dataclass(frozen=True)
class ReplayItem:
    """One replay turn. `step` is the recorded step index; `window` the focused window recorded
    before it; `expect_change` whether the recorded screen changed after it."""

    step: int
    actions: tuple[Action, ...]
    window: WindowInfo | None = None
    expect_change: bool = False
    frames: tuple[str, str] | None = None  # recorded (before, after) frame names, when it changed


@dataclass(frozen=True)
class ReplayOptions:
    verify: bool = True
    speed: float = 1.0              # recorded waits are divided by this
    threshold: float = ACCEPT       # crop match that identifies a target by itself
    patience_s: float = 2.0         # how long a failing check is retried before the replay stops
    poll_s: float = 0.1
    check_changes: bool = True      # off for --dry-run: nothing is performed, so nothing changes
    strict_changes: bool = True     # off for `uiagent record` demonstrations: their after-frames are
    #                                 grabbed asynchronously and may show the user's next input already


FrameLoader = Callable[[str], "Image.Image | None"]


@dataclass
class _Pending:
    item: ReplayItem
    before: str  # fingerprint of the screen before the item
    moved_by: tuple[int, int] = (0, 0)


class RecordedPlanner:
    """Plays `items` back (see the module docstring). `crops` maps crop hashes to images."""

    name = "recorded"
    model = "replay"
    capabilities = Capabilities(elements=True)  # a perceiver with OCR; text read only when `needs_elements`

    def __init__(self, items: Sequence[ReplayItem], crops: Mapping[str, Image.Image],
                 options: ReplayOptions | None = None, clock: Callable[[], float] = time.monotonic,
                 frames: FrameLoader | None = None) -> None:
        self.items = list(items)
        self.frames = frames
        self.crops = crops
        self.options = options or ReplayOptions()
        self.clock = clock
        self.index = 0                    # next item to play
        self.played = 0                   # actions handed out (and, per the history, performed)
        self.failure: Verification | None = None
        self.failed_step: int | None = None
        self.verifications: list[Verification] = []
        self.notes: list[str] = []  # what was let through with a doubt, for the result
        self._want_elements = False
        self._hovered: int | None = None  # the item whose target the pointer was moved onto
        self._waiting_since: float | None = None
        self._pending: _Pending | None = None
        self._last: ReplayItem | None = None
        self.steps_played: set[int] = set()

    @property
    def needs_elements(self) -> bool:
        return self._want_elements

    def prepare(self, task: str) -> None:
        """Nothing to check: the recording was validated when it was loaded."""

    def next_turn(self, task: str, observation: Observation, history: Sequence[HistoryItem]) -> Turn:
        if history and (bad := next((r for r in history[-1].results if not r.ok), None)):
            step = self._last.step if self._last else 0
            self.steps_played.discard(step)
            return self._fail(step, f"step {step}: {bad.describe()}")
        if self._pending is not None and (turn := self._check_change(observation)) is not None:
            return turn
        if self.index >= len(self.items):
            return Turn(actions=(Done(summary=f"replayed {self.played} action(s)"),), prompt_ref="replay",
                        reasoning="every recorded step was replayed")
        item = self.items[self.index]
        if not self.options.verify:
            return self._play(item, item.actions, observation, "not verified (--no-verify)")
        head = item.actions[0]
        if action_point(head) is None:
            problem = _window_problem(item.window, observation.window)
            if problem:
                return self._retry_or_fail(item, f"step {item.step}: {problem}", None)
            return self._play(item, item.actions, observation, "focused window checked" if item.window else
                              "no window recorded: typing follows the last verified target")
        target = getattr(head, "target", None)
        crop = self.crops.get(target.crop_hash) if target is not None and target.crop_hash else None
        v = verify_target(head, crop, observation.screenshot, elements=observation.elements,
                          threshold=self.options.threshold)
        if v.ok:
            self.verifications.append(v)
            return self._play(item, (v.action, *item.actions[1:]), observation, v.reason, v.moved_by)
        if v.needs_labels and not observation.elements and not self._want_elements:
            self._want_elements = True
            return Turn(reasoning=f"step {item.step}: {v.reason}: reading the labels on screen", prompt_ref="replay")
        if (self._hovered != self.index and isinstance(head, (Click, Drag, Scroll)) and v.found_box is not None
                and v.score >= _HOVER_MIN_SCORE):
            # A demonstration's crop is taken with the pointer already on the target, which many
            # apps highlight: put the pointer on the near-match too, then look again (a move
            # clicks nothing; a foreign screen matches too weakly to get even that).
            self._hovered = self.index
            spot = v.found_box.center
            return Turn(reasoning=f"step {item.step}: {v.reason}: hovering to compare the highlighted state",
                        actions=(Move(x=spot.x, y=spot.y),), prompt_ref="replay")
        return self._retry_or_fail(item, f"step {item.step}: {v.reason}", v)

    # -- outcomes of a turn

    def _play(self, item: ReplayItem, actions: tuple[Action, ...], obs: Observation, why: str,
              moved_by: tuple[int, int] = (0, 0)) -> Turn:
        self.index += 1
        self._last = item
        self.steps_played.add(item.step)
        self._waiting_since = None
        self._want_elements = False
        self._hovered = None
        if item.expect_change and self.options.check_changes and self.options.verify:
            self._pending = _Pending(item, obs.frame_hash or fingerprint(obs.screenshot.image), moved_by)
        scaled = tuple(self._scaled(a) for a in actions)
        self.played += len(scaled)
        return Turn(reasoning=f"recorded step {item.step}: {why}", actions=scaled, prompt_ref="replay",
                    raw_output=f"step {item.step}")

    def _scaled(self, action: Action) -> Action:
        if isinstance(action, Wait) and self.options.speed != 1.0:
            return Wait(seconds=max(action.seconds / self.options.speed, _MIN_WAIT_S))
        return action

    def _check_change(self, obs: Observation) -> Turn | None:
        assert self._pending is not None
        now = obs.frame_hash or fingerprint(obs.screenshot.image)
        if now != self._pending.before or self._already_there(self._pending, obs):
            self._pending = None
            self._waiting_since = None
            return None
        item = self._pending.item
        what = ", ".join(a.describe() for a in item.actions)
        reason = f"step {item.step}: the screen did not change after {what}, as it did in the recording"
        if not self.options.strict_changes and self._waited(min(self.options.patience_s, _SOFT_WAIT_S)):
            self._pending = None
            self._waiting_since = None
            self.notes.append(f"{reason} (a demonstration's after-frame may show later input: going on)")
            return None
        return self._retry_or_fail(item, reason, None)

    def _waited(self, seconds: float) -> bool:
        now = self.clock()
        if self._waiting_since is None:
            self._waiting_since = now
        return now - self._waiting_since >= seconds

    def _already_there(self, pending: _Pending, obs: Observation) -> bool:
        """The screen did not change, but where the recording's did it already looks like the
        recording's after-frame (e.g. a window that was focused before the click this time)."""
        names = pending.item.frames
        if names is None or self.frames is None:
            return False
        before, after = self.frames(names[0]), self.frames(names[1])
        if before is None or after is None or before.size != after.size:
            return False
        box = diff_bbox(before, after)
        if box is None:
            return False
        dx, dy = pending.moved_by
        shot = obs.screenshot
        left, top = box.left + dx - shot.left, box.top + dy - shot.top
        if left < 0 or top < 0 or left + box.width > shot.size[0] or top + box.height > shot.size[1]:
            return False
        now = gray(shot.image.crop((left, top, left + box.width, top + box.height)))
        then = gray(after.crop((box.left, box.top, box.right, box.bottom)))
        return float(np.abs(now.astype(np.int16) - then.astype(np.int16)).mean()) < _SAME_GREY

    def _retry_or_fail(self, item: ReplayItem, reason: str, v: Verification | None) -> Turn:
        now = self.clock()
        if self._waiting_since is None:
            self._waiting_since = now
        if now - self._waiting_since < self.options.patience_s:
            return Turn(reasoning=f"{reason}; waiting {self.options.poll_s:g}s and looking again",
                        actions=(Wait(seconds=self.options.poll_s),), prompt_ref="replay")
        self.failure = v
        return self._fail(item.step, reason)

    def _fail(self, step: int, reason: str) -> Turn:
        self.failed_step = step
        self.steps_played.discard(step)
        return Turn(reasoning=reason, actions=(Fail(reason=reason),), prompt_ref="replay")


_HOVER_MIN_SCORE = 0.55  # a near-match worth hovering over (highlights and pressed neighbours cost ~0.3)


def _window_problem(recorded: WindowInfo | None, now: WindowInfo) -> str | None:
    """Typing goes where the focus is: the focused application must be the recorded one."""
    if recorded is None or not (recorded.app or recorded.title):
        return None
    if recorded.app:
        if recorded.app.casefold() == now.app.casefold():
            return None
    elif recorded.title == now.title:
        return None
    return (f"the focused window is {now.app or '?'} {now.title!r}, the recording typed into "
            f"{recorded.app or '?'} {recorded.title!r}")


# --------------------------------------------------------------------------- building items


@dataclass
class Plan:
    """Items to replay, and what could not be replayed (said to the user, never silently dropped)."""

    items: list[ReplayItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def plan_steps(steps: Sequence[object], crops: Mapping[str, Image.Image], *, first: int | None = None,
               last: int | None = None, verify: bool = True) -> Plan:
    """Recorded `Step`s -> replay items. Actions that were not performed in the recording, and
    `done`/`fail`, are left out; a pointer action that cannot be verified (no crop on disk and no
    label) and redacted typing are skipped and listed."""
    plan = Plan()
    for step in steps:
        index: int = step.index  # type: ignore[attr-defined]
        if (first is not None and index < first) or (last is not None and index > last):
            continue
        results = step.results  # type: ignore[attr-defined]
        done = [a for a, r in zip(step.actions, results) if r.ok]  # type: ignore[attr-defined]
        kept: list[Action] = []
        for action in done:
            problem = _unplayable(action, crops, verify)
            if problem:
                plan.skipped.append(f"step {index}: {action.describe()}: {problem}")
            else:
                kept.append(action)
        changed = bool(step.frame_before and step.frame_after  # type: ignore[attr-defined]
                       and step.frame_before != step.frame_after)  # type: ignore[attr-defined]
        if not kept:
            continue
        frames = (step.frame_before, step.frame_after) if changed else None  # type: ignore[attr-defined]
        plan.items += split_turns(index, kept, step.window, frames)  # type: ignore[attr-defined]
    return plan


def _unplayable(action: Action, crops: Mapping[str, Image.Image], verify: bool) -> str | None:
    if isinstance(action, Type) and REDACTED in action.text:
        return "the typed text was redacted in the recording"
    target = getattr(action, "target", None)
    if not verify or action_point(action) is None:
        return None
    has_crop = target is not None and target.crop_hash and target.crop_hash in crops
    if not has_crop and not (target is not None and target.label):
        missing = f"its crop {target.crop_hash}.png is missing" if target and target.crop_hash else "no crop"
        return f"{missing} and it has no label: it cannot be verified"
    return None


def split_turns(step: int, actions: Sequence[Action], window: WindowInfo | None = None,
                frames: tuple[str, str] | None = None) -> list[ReplayItem]:
    """Every pointer action starts a new item (it must be verified on a fresh screen)."""
    groups: list[list[Action]] = []
    for action in actions:
        if not groups or action_point(action) is not None:
            groups.append([action])
        else:
            groups[-1].append(action)
    last = len(groups) - 1
    return [ReplayItem(step=step, actions=tuple(g), window=window if i == 0 else None,
                       expect_change=frames is not None and i == last, frames=frames if i == last else None)
            for i, g in enumerate(groups)]
