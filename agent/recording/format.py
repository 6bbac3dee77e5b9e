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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from actions.desktop.base import ScreenGeometry, WindowInfo
from actions.errors import UnsafeRecording, UsageError
from actions.models import Action, ActionResult, Point, Verdict, validation_message
from agent import __version__
from agent.perception.elements import Element
from agent.perception.reaction import Reaction
from agent.planners.base import Usage
from agent.recording.files import inside, open_inside, safe_crop_hash, safe_frame_name, shown

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
    """A loaded recording. `warnings` says what was skipped or is missing; reading goes on.

    Every frame and crop name in `steps` is one the format writes (names that were not are
    dropped at load with a warning); open them with `open_frame` / `open_crop`, which also
    refuse a file that is not a regular file inside `folder`."""

    session: Session
    steps: tuple[Step, ...]
    folder: Path
    warnings: tuple[str, ...] = ()
    missing_frames: tuple[str, ...] = ()

    def frame_path(self, name: str) -> Path:
        return self.folder / FRAMES_DIR / name

    def crop_path(self, crop_hash: str) -> Path:
        return self.folder / CROPS_DIR / f"{crop_hash}.png"

    def open_frame(self, name: str) -> BinaryIO:
        """The frame file, opened only if `name` is a frame name and the file is inside the folder
        (FileNotFoundError if missing, UnsafeRecording otherwise)."""
        return open_frame(self.folder, name)

    def open_crop(self, crop_hash: str) -> BinaryIO:
        return open_crop(self.folder, crop_hash)


def open_frame(folder: Path, name: str) -> BinaryIO:
    if not safe_frame_name(name):
        raise UnsafeRecording(f"{shown(name)} is not a frame name of the recording format: refused, not opened")
    return open_inside(folder, FRAMES_DIR, name)


def open_crop(folder: Path, crop_hash: str) -> BinaryIO:
    if not safe_crop_hash(crop_hash):
        raise UnsafeRecording(f"{shown(crop_hash)} is not a crop hash of the recording format: refused, not opened")
    return open_inside(folder, CROPS_DIR, f"{crop_hash}.png")


def load_recording(path: Path | str) -> Recording:
    """Read and validate a recording folder (or its session.json). Bad input is one UsageError line;
    a truncated last step (a killed session), a bad line in the middle (skipped), frame or crop
    names that are not the format's own (dropped) and missing frames become `warnings`."""
    folder, session = load_session(path)
    warnings: list[str] = []
    steps = list(iter_steps(folder, warnings))
    if session.outcome.status == "running":
        warnings.append(UNFINISHED)
    missing = check_frames(folder, {f for s in steps for f in s.frames()}, warnings)
    return Recording(session, tuple(steps), folder, tuple(warnings), tuple(missing))


UNFINISHED = "the session did not finish (it was killed, or is still running)"


def missing_frames_warning(folder: Path, missing: Sequence[str]) -> str:
    shown_names = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return f"{len(missing)} frame(s) missing from {folder / FRAMES_DIR}: {shown_names}"


def frame_exists(folder: Path, name: str) -> bool:
    """Whether frames/`name` is a regular file inside `folder` (checked without opening it)."""
    return _frame_problem(folder, name) is None


def _frame_problem(folder: Path, name: str) -> str | None:
    try:
        path = inside(folder, FRAMES_DIR, name)
        if not path.exists():
            return "missing"
        return None if path.is_file() else f"{FRAMES_DIR}/{name} in {folder} is not a regular file: refused, not opened"
    except UnsafeRecording as e:
        return str(e)


def check_frames(folder: Path, names: Iterable[str], warnings: list[str]) -> list[str]:
    """The frames of `names` that cannot be read (sorted): missing ones in one warning, those that
    lead outside the folder or are not regular files one warning each (at most 5)."""
    problems = {n: p for n in names if (p := _frame_problem(folder, n)) is not None}
    missing = sorted(n for n, p in problems.items() if p == "missing")
    if missing:
        warnings.append(missing_frames_warning(folder, missing))
    refused = sorted(p for p in problems.values() if p != "missing")
    warnings += refused[:5] + ([f"and {len(refused) - 5} more frame(s) refused"] if len(refused) > 5 else [])
    return sorted(problems)


def load_session(path: Path | str) -> tuple[Path, Session]:
    """The recording folder (given it or its session.json) and its validated session."""
    folder = Path(path)
    if folder.name == SESSION_FILE and folder.is_file():
        folder = folder.parent
    return folder, _load_session(folder)


def _load_session(folder: Path) -> Session:
    file = folder / SESSION_FILE
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a recording: no such folder")
    if not (file.exists() or file.is_symlink()):
        raise UsageError(f"{folder} is not a recording: it has no {SESSION_FILE}")
    try:
        with open_inside(folder, SESSION_FILE) as f:
            raw = f.read(_MAX_SESSION_BYTES + 1)
        if len(raw) > _MAX_SESSION_BYTES:
            raise UsageError(f"{file} is over {_MAX_SESSION_BYTES // 1_000_000} MB: not a session")
        data = json.loads(raw.decode("utf-8"))
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
                         f"({shown(str(data.get('uiagent_version', 'unknown')))})")
    try:
        return Session.model_validate(data)
    except ValidationError as e:
        raise UsageError(f"{file} is invalid: {validation_message(e)}") from None


_MAX_SESSION_BYTES = 16_000_000


def iter_steps(folder: Path, warnings: list[str]) -> Iterator[Step]:
    """The steps of `folder/steps.jsonl`, one at a time (a 10,000-step recording is never held
    whole). Lines that are not valid steps are skipped and said in `warnings` (a truncated last
    line: a killed session); frame and crop names that are not the format's own are dropped from
    their step, with a warning naming it. An unreadable file is a UsageError."""
    file = folder / STEPS_FILE
    try:
        f = open_inside(folder, STEPS_FILE)
    except FileNotFoundError:
        warnings.append(f"{file.name} is missing: no steps were recorded")
        return
    except OSError as e:
        raise UsageError(f"{file} is unreadable: {e.strerror}") from None
    count, bad = 0, []
    with f:
        for number, line in enumerate(_lines(f, file), 1):
            if not line.strip():
                continue
            try:
                step = Step.model_validate_json(line)
            except ValidationError as e:
                if not line.endswith(b"\n"):  # a write cut short by a crash: the end of the file
                    warnings.append(f"{file.name}: the last line ({len(line)} bytes) is truncated and was "
                                    f"skipped; {count} step(s) loaded")
                    break
                bad.append(f"line {number} ({_short(validation_message(e))})")
                continue
            count += 1
            yield _checked(step, number, warnings)
    if bad:
        warnings.append(f"{file.name}: {len(bad)} line(s) are not valid steps and were skipped: "
                        + "; ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""))


MAX_STEP_LINE = 32_000_000  # bytes: a longer line is skipped unread (it is not a step uiagent writes)


def _lines(f: BinaryIO, file: Path) -> Iterator[bytes]:
    """Lines of `f`; a line over MAX_STEP_LINE is read past in chunks and yielded as a short
    placeholder (not a valid step), so memory stays bounded whatever the file holds."""
    try:
        while line := f.readline(MAX_STEP_LINE + 1):
            if len(line) > MAX_STEP_LINE and not line.endswith(b"\n"):
                while (chunk := f.readline(1 << 20)) and not chunk.endswith(b"\n"):
                    pass
                line = b"<a line over %d MB>" % (MAX_STEP_LINE // 1_000_000) + (b"\n" if chunk else b"")
            yield line
    except OSError as e:
        raise UsageError(f"{file} is unreadable: {e.strerror}") from None


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _checked(step: Step, number: int, warnings: list[str]) -> Step:
    """`step` without the frame and crop names the format never writes (absolute paths, `../`,
    anything but a content hash): those are refused with a warning, so nothing reads them."""
    update: dict[str, Any] = {}
    for field in ("frame_before", "frame_after"):
        name = getattr(step, field)
        if name is not None and not safe_frame_name(name):
            warnings.append(f"step {step.index} (line {number}): {field} {shown(name)} is not a frame name of "
                            "the recording format: refused, not opened")
            update[field] = None
    actions = []
    for action in step.actions:
        target = getattr(action, "target", None)
        if target is not None and target.crop_hash is not None and not safe_crop_hash(target.crop_hash):
            warnings.append(f"step {step.index} (line {number}): crop_hash {shown(target.crop_hash)} is not a "
                            "crop hash of the recording format: refused, not opened")
            action = action.model_copy(update={"target": target.model_copy(update={"crop_hash": None})})
        actions.append(action)
    if any(a is not b for a, b in zip(actions, step.actions)):
        update["actions"] = tuple(actions)
    return step.model_copy(update=update) if update else step
