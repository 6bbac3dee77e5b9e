"""What a report shows of a recording of any length, read in one pass with bounded memory.

Every step gets a `StepLine` (a few hundred bytes: index, what it did, whether it failed, its
frames); only some are kept whole for the report to show in full: all of them up to
`FULL_HEAD + FULL_TAIL` steps (a 100-step report is as before), otherwise the first `FULL_HEAD`
(how the run began), the last `FULL_TAIL` (how it ended) and up to `FULL_FAILED` failed steps
in between (where it went wrong). The rest are one row each in the timeline, like a trace
viewer's list, with their frame files linked rather than embedded. Text is clipped (`clip`) so
no recorded field can blow the report's 20 MB budget.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from actions.models import Key, Type
from agent.planners.base import Usage
from agent.recording.format import Step

FULL_HEAD = 150
FULL_TAIL = 150
FULL_FAILED = 50
MAX_LINES = 20_000   # steps listed one row each; beyond, a count (keeps a 100k-step report in budget)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters in steps.jsonl)"


def signature(step: Step) -> tuple[str, ...]:
    """What a step did, for aligning two runs: each action's kind and target label (the typed
    text or key chord for keyboard actions). Coordinates are left out on purpose."""
    parts = []
    for a in step.actions:
        target = getattr(a, "target", None)
        detail = target.label if target is not None and target.label else ""
        if isinstance(a, Type):
            detail = a.text
        elif isinstance(a, Key):
            detail = a.chord
        parts.append(f"{a.kind}:{clip(detail, 200)}")
    return tuple(parts)


@dataclass(frozen=True)
class StepLine:
    """One step, summarised: what a row of the timeline shows and the diff aligns on."""

    index: int
    position: int                  # 0-based order in steps.jsonl
    started: datetime
    ended: datetime
    failed: bool
    kinds: tuple[str, ...]
    described: str                 # the actions, clipped
    error: str
    signature: tuple[str, ...]
    frame_before: str | None
    frame_after: str | None
    usage: Usage
    duration_ms: float


def line_of(step: Step, position: int) -> StepLine:
    described = "; ".join(clip(a.describe(), 160) for a in step.actions[:8])
    if len(step.actions) > 8:
        described += f"; and {len(step.actions) - 8} more"
    return StepLine(step.index, position, step.started, step.ended, step.failed, tuple(a.kind for a in step.actions),
                    described, clip(step.error or "", 200), signature(step), step.frame_before, step.frame_after,
                    step.usage, step.durations.total)


@dataclass
class Digest:
    """Every step's line, the steps kept whole (in order), totals and the frame names seen."""

    lines: list[StepLine] = field(default_factory=list)
    full: list[tuple[int, Step]] = field(default_factory=list)   # (position, step)
    count: int = 0
    failed: int = 0
    usage: Usage = field(default_factory=Usage)
    first_started: datetime | None = None
    last_ended: datetime | None = None
    first_error: int | None = None
    frames: set[str] = field(default_factory=set)

    @property
    def summarised(self) -> bool:
        return len(self.full) < self.count

    @property
    def duration_s(self) -> float:
        if self.first_started is None or self.last_ended is None:
            return 0.0
        return (self.last_ended - self.first_started).total_seconds()


def digest(steps: Iterable[Step], head: int = FULL_HEAD, tail: int = FULL_TAIL,
           failed_cap: int = FULL_FAILED) -> Digest:
    """One pass over `steps`: holds at most head + tail + failed_cap whole steps at any time."""
    d = Digest()
    head_steps: list[tuple[int, Step]] = []
    tail_steps: deque[tuple[int, Step]] = deque()
    failed_steps: list[tuple[int, Step]] = []
    for position, step in enumerate(steps):
        line = line_of(step, position)
        if len(d.lines) < MAX_LINES:
            d.lines.append(line)
        d.count += 1
        d.usage = d.usage + step.usage
        d.first_started = d.first_started or step.started
        d.last_ended = step.ended
        d.frames.update(step.frames())
        if step.failed:
            d.failed += 1
            d.first_error = step.index if d.first_error is None else d.first_error
        if len(head_steps) < head:
            head_steps.append((position, step))
            continue
        tail_steps.append((position, step))
        if len(tail_steps) > tail:
            dropped = tail_steps.popleft()
            if dropped[1].failed and len(failed_steps) < failed_cap:
                failed_steps.append(dropped)
    d.full = [*head_steps, *failed_steps, *tail_steps]
    return d
