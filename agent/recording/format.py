"""The recording format: one session = one folder. Models, secret redaction and the reader.

```
<record_dir>/<UTC timestamp>-<task slug>/
  session.json   Session: written at start, rewritten atomically (temp + rename) at finish
  steps.jsonl    one Step per line, appended, flushed and fsynced as each step ends
  frames/        screenshots named by content hash (identical frames stored once)
  crops/         small crops around pointer targets, named by content hash (Target.crop_hash)
  report.html    written by `uiagent show`
```

The writer is `agent.recording.writer` (FolderRecorder, and the in-memory fake). Every string written
goes through a `Redactor` first. `load_recording` re-validates everything and turns bad input
into one `UsageError` line; the traces of a killed session (a truncated last line, a session
still `running`) and missing frames become warnings, not errors.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from actions.desktop.base import ScreenGeometry, WindowInfo
from actions.errors import UsageError
from actions.models import Action, ActionResult, Point, Verdict, validation_message
from agent import __version__
from agent.perception.elements import Element
from agent.perception.reaction import Reaction
from agent.planners.base import Usage

log = logging.getLogger(__name__)

FORMAT = "uiagent-recording"
FORMAT_VERSION = 1
SESSION_FILE = "session.json"
STEPS_FILE = "steps.jsonl"
FRAMES_DIR = "frames"
CROPS_DIR = "crops"


Kind = Literal["do", "replay", "record", "mcp"]
REDACTED = "{{REDACTED}}"  # what `uiagent record` writes for text typed into a password field


def utc_now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- models


class Outcome(BaseModel):
    """How a session ended. `running` until `finish`; a killed session stays `running`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    status: Literal["running", "done", "failed", "stopped", "error"] = "running"
    reason: str = ""
    steps: int = 0
    model_calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0
    denials: int = 0  # actions the guards denied


class Session(BaseModel):
    """session.json: what ran, where, with which settings, and how it ended."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    format: Literal["uiagent-recording"] = "uiagent-recording"
    version: int = FORMAT_VERSION
    kind: Kind = "do"
    task: str
    planner: str = ""
    model: str = ""
    settings: dict[str, Any] = Field(default_factory=dict, description="Settings snapshot (JSON-safe)")
    screen: ScreenGeometry | None = None
    uiagent_version: str = __version__
    python_version: str = Field(default_factory=platform.python_version)
    started: AwareDatetime = Field(default_factory=utc_now)
    ended: AwareDatetime | None = None
    outcome: Outcome = Outcome()
    replay_of: str | None = Field(default=None, description="Path of the original recording (replays)")


class Durations(BaseModel):
    """Milliseconds spent in each phase of a step."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    capture: float = 0.0
    perceive: float = 0.0
    plan: float = 0.0
    act: float = 0.0
    settle: float = 0.0
    record: float = 0.0

    @property
    def total(self) -> float:
        return self.capture + self.perceive + self.plan + self.act + self.settle + self.record


class Perception(BaseModel):
    """A compact perception summary: how many elements were found and the ones worth keeping
    (those the model used, or the first few). See `summarize_perception`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    source: str = ""
    element_count: int = 0
    elements: tuple[Element, ...] = ()


class Step(BaseModel):
    """One line of steps.jsonl. Actions are in screen space; pointer actions carry their Target."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    index: int = Field(ge=0)
    started: AwareDatetime
    ended: AwareDatetime
    frame_before: str | None = Field(default=None, description="File name under frames/")
    frame_after: str | None = None
    frame_origin: Point = Field(default=Point(x=0, y=0), description="Screen position of the frames' "
                                "top-left pixel (non-zero for --monitor N)")
    perception: Perception = Perception()
    prompt_ref: str = ""
    raw_output: str = ""
    reasoning: str = ""
    actions: tuple[Action, ...] = ()
    model_coordinates: tuple[str, ...] = ()
    results: tuple[ActionResult, ...] = Field(default=(), description="One per action that was tried")
    notes: tuple[str, ...] = ()
    injection: tuple[str, ...] = Field(default=(), description="On-screen text that tried to instruct the agent")
    durations: Durations = Durations()
    usage: Usage = Usage()
    error: str | None = None
    window: WindowInfo | None = Field(default=None, description="The focused window before the step "
                                      "(replay checks typing goes to the same app)")
    reactions: tuple[Reaction, ...] = Field(default=(), description="Per settled action: the reaction waited "
                                            "for (deadline, signals watched), what came and when")

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """The guard verdict of each action that was tried (kept inside its ActionResult)."""
        return tuple(r.verdict for r in self.results)

    @property
    def failed(self) -> bool:
        return bool(self.error) or any(not r.ok for r in self.results)

    def frames(self) -> tuple[str, ...]:
        return tuple(f for f in (self.frame_before, self.frame_after) if f)

    def crops(self) -> tuple[str, ...]:
        targets = (getattr(a, "target", None) for a in self.actions)
        return tuple(t.crop_hash for t in targets if t is not None and t.crop_hash)


def summarize_perception(elements: Iterable[Element], used: Iterable[int] = (), source: str = "",
                         keep: int = 20) -> Perception:
    """Keep the elements the model used plus the first `keep` others: enough to see what the agent
    saw, without writing hundreds of OCR boxes per step."""
    elements = tuple(elements)
    used_ids = set(used)
    kept = [e for e in elements if e.id in used_ids]
    kept += [e for e in elements if e.id not in used_ids][:keep]
    return Perception(source=source, element_count=len(elements), elements=tuple(kept))


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Recording:
    """A loaded recording. `warnings` says what was skipped or is missing; reading goes on."""

    session: Session
    steps: tuple[Step, ...]
    folder: Path
    warnings: tuple[str, ...] = ()
    missing_frames: tuple[str, ...] = ()

    def frame_path(self, name: str) -> Path:
        return self.folder / FRAMES_DIR / name

    def crop_path(self, crop_hash: str) -> Path:
        return self.folder / CROPS_DIR / f"{crop_hash}.png"


def load_recording(path: Path | str) -> Recording:
    """Read and validate a recording folder (or its session.json). Bad input is one UsageError line;
    a truncated last step (a killed session) and missing frames become `warnings`."""
    folder = Path(path)
    if folder.is_file() and folder.name == SESSION_FILE:
        folder = folder.parent
    session = _load_session(folder)
    steps, warnings = _load_steps(folder / STEPS_FILE)
    if session.outcome.status == "running":
        warnings.append("the session did not finish (it was killed, or is still running)")
    missing = sorted({f for s in steps for f in s.frames() if not (folder / FRAMES_DIR / f).is_file()})
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        warnings.append(f"{len(missing)} frame(s) missing from {folder / FRAMES_DIR}: {shown}")
    return Recording(session, tuple(steps), folder, tuple(warnings), tuple(missing))


def _load_session(folder: Path) -> Session:
    file = folder / SESSION_FILE
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a recording: no such folder")
    if not file.is_file():
        raise UsageError(f"{folder} is not a recording: it has no {SESSION_FILE}")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{file} is unreadable: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{folder} is not a recording: {SESSION_FILE} is not a uiagent session")
    version = data.get("version")
    if not isinstance(version, int):
        raise UsageError(f"{file} has no format version")
    if version > FORMAT_VERSION:
        raise UsageError(f"{folder} uses recording format {version}, newer than this uiagent reads "
                         f"({FORMAT_VERSION}): upgrade uiagent")
    if version < FORMAT_VERSION:
        raise UsageError(f"{folder} uses recording format {version}, older than this uiagent reads "
                         f"({FORMAT_VERSION}): show it with the uiagent that wrote it "
                         f"({data.get('uiagent_version', 'unknown')})")
    try:
        return Session.model_validate(data)
    except ValidationError as e:
        raise UsageError(f"{file} is invalid: {validation_message(e)}") from None


def _load_steps(file: Path) -> tuple[list[Step], list[str]]:
    if not file.exists():
        return [], [f"{file.name} is missing: no steps were recorded"]
    try:
        raw = file.read_bytes()
    except OSError as e:
        raise UsageError(f"{file} is unreadable: {e.strerror}") from None
    lines = raw.split(b"\n")
    complete = raw.endswith(b"\n")
    steps: list[Step] = []
    warnings: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            steps.append(Step.model_validate_json(line))
        except ValidationError as e:
            if not complete and number == len(lines):  # a write cut short by a crash
                warnings.append(f"{file.name}: the last line ({len(line)} bytes) is truncated and was "
                                f"skipped; {len(steps)} step(s) loaded")
                break
            raise UsageError(f"{file} line {number} is not a valid step: {validation_message(e)}") from None
    return steps, warnings
