"""A self-contained HTML report of a recording: one file, no network, written by `uiagent show`.

Every distinct frame of the steps shown in full is embedded once, as a CSS class holding a JPEG
data URI (downscaled to at most 1280 px wide; quality drops further if the file would pass ~18 MB).
Markers are absolutely positioned HTML/SVG overlays in percent of the frame, so they stay on the
recorded screen point at any displayed size. `--diff B` aligns two runs step by step (difflib on
step signatures: action kind + target label, or the typed text / key chord) and marks where they
diverge.

Long recordings stream (`agent.recording.digest`): steps are read one at a time; up to 300 steps
every step is shown in full, beyond that the first and last 150 and up to 50 failed steps are,
and every other step is one row of the timeline with links to its frame files. The page is written
to a temp file as it renders; over the 20 MB budget it is rendered again with fewer full steps.
Recorded text is clipped per field. A write error (disk full) removes the temp file.
"""

from __future__ import annotations

import difflib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from actions.errors import DISK_FULL, UsageError
from actions.models import Action, ActionResult, Click, Drag, Move, Scroll
from agent import status
from agent.recording.digest import FULL_FAILED, FULL_HEAD, FULL_TAIL, Digest, StepLine, clip, digest, line_of
from agent.recording.digest import signature as signature
from agent.recording.embed import REPORT_BUDGET, EmbeddedImage, embed_crops, embed_frames
from agent.recording.format import (
    FRAMES_DIR,
    UNFINISHED,
    Recording,
    Session,
    Step,
    check_frames,
    frame_exists,
    iter_steps,
    load_session,
)

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
_IMAGE_BUDGET = 18_000_000  # bytes of base64 image data when every step is shown in full
_IMAGE_BUDGET_SUMMARISED = 10_000_000  # when the timeline's rows and text need the rest
# (head, tail, failed) steps in full: tried in order until the page fits REPORT_BUDGET.
_LIMITS = ((FULL_HEAD, FULL_TAIL, FULL_FAILED), (40, 40, 20), (5, 5, 5))
_MAX_ACTIONS_SHOWN = 50
_MAX_PATH_POINTS = 400


@dataclass(frozen=True)
class Written:
    """What `write_report` did: the file, and what was missing or skipped along the way."""

    path: Path
    warnings: tuple[str, ...] = ()


@dataclass
class Overlay:
    kind: str                 # click | move | scroll | drag-start | drag-end | target
    left: float               # percent of the frame
    top: float
    width: float = 0.0
    height: float = 0.0
    x: int = 0                # the screen-space point it marks
    y: int = 0
    label: str = ""


@dataclass(frozen=True)
class ActionView:
    action: Action
    model_coordinates: str
    result: ActionResult | None    # None: the action was not tried
    crop: EmbeddedImage | None     # the recorded crop around its target


@dataclass
class StepView:
    step: Step
    frame: EmbeddedImage | None
    frame_after: EmbeddedImage | None
    size: tuple[int, int]
    overlays: list[Overlay]
    drag_paths: list[str]     # SVG polyline points, in frame pixels
    actions: list[ActionView]
    diverged: bool = False
    position: int = 0         # order in steps.jsonl
    number: int = 0           # order among the steps shown in full


@dataclass
class Row:
    """A step shown as one row of the timeline (not in full)."""

    line: StepLine
    frame_href: str            # '' when there is no frame file to link
    diverged: bool = False


@dataclass
class Block:
    """A step shown in full, or a run of rows between two of them."""

    view: StepView | None = None
    rows: list[Row] = field(default_factory=list)
    unlisted: int = 0          # steps past digest.MAX_LINES, counted but not listed


@dataclass
class Source:
    """A recording to render: its session, a way to read its steps, and the warnings so far."""

    folder: Path
    session: Session
    steps: Callable[[list[str]], Iterable[Step]]
    warnings: tuple[str, ...] = ()
    missing: tuple[str, ...] | None = None   # known missing frames (None: find out while reading)


def source(recording: Recording | Path | str) -> Source:
    """A loaded Recording as a Source, or a folder read lazily (only its session now)."""
    if isinstance(recording, Recording):
        return Source(recording.folder, recording.session, lambda w: recording.steps, recording.warnings,
                      recording.missing_frames)
    folder, session = load_session(recording)
    return Source(folder, session, partial(iter_steps, folder))


def write_report(recording: Path | str, out: Path | None = None, diff: Path | str | None = None) -> Written:
    """Render `recording` (optionally against `diff`) to `out` (default RECORDING/report.html).

    Only that one file is written, atomically; on a write error the temp file is removed. Bad
    input is one UsageError line."""
    a = source(recording)
    b = source(diff) if diff is not None else None
    target = _output_path(a.folder, b.folder if b else None, out)
    for n, limits in enumerate(_LIMITS):
        try:
            size, warnings = _write_once(target, a, b, limits, last=n == len(_LIMITS) - 1)
        finally:
            status.clear()
        if size:
            log.info("report written to %s (%d bytes)", target, size)
            return Written(target, warnings)
        log.info("the report passed %d bytes with %s steps in full: rendering with fewer", REPORT_BUDGET, limits)
    raise AssertionError("unreachable: the last limits always write")


def _write_once(target: Path, a: Source, b: Source | None, limits: tuple[int, int, int],
                last: bool) -> tuple[int, tuple[str, ...]]:
    """Render into a temp file beside `target`; rename it over `target` if it fits the budget (or
    `last`). Returns the size written (0: over the budget, nothing written) and the warnings."""
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            chunks, warnings = _render(a, b, limits, target.parent)
            status.show(f"writing {target.name}")
            size = 0
            for chunk in chunks:
                data = chunk.encode("utf-8")
                f.write(data)
                size += len(data)
        if size > REPORT_BUDGET and not last:
            Path(tmp).unlink()
            return 0, warnings
        os.replace(tmp, target)
        return size, warnings
    except OSError as e:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        if e.errno in DISK_FULL:
            raise UsageError(f"cannot write the report {target}: disk full (free some space or choose another "
                             "place with --out)") from None
        why = e.strerror or type(e).__name__
        raise UsageError(f"cannot write the report {target}: {why} (choose another place with --out)") from None
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise


def _output_path(folder: Path, other: Path | None, out: Path | None) -> Path:
    if out is None:
        return folder / REPORT_FILE
    target = out.resolve()
    if target.is_dir():
        raise UsageError(f"--out {out} is a folder: give a file name such as {out / REPORT_FILE}")
    for f in (folder, other):
        resolved = f.resolve() if f else None
        if resolved and resolved in target.parents and target != resolved / REPORT_FILE:
            raise UsageError(f"refusing to write {out}: inside a recording only {REPORT_FILE} may be written")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write the report {out}: the folder {target.parent} does not exist")
    return target


def render_report(rec: Recording | Path | str, other: Recording | Path | str | None = None,
                  limits: tuple[int, int, int] = _LIMITS[0]) -> tuple[str, tuple[str, ...]]:
    """The report's HTML and the warnings (the recording's own, and images that could not be read)."""
    a = source(rec)
    chunks, warnings = _render(a, source(other) if other is not None else None, limits, a.folder)
    return "".join(chunks), warnings


def _read(src: Source, limits: tuple[int, int, int]) -> tuple[Digest, list[str], set[str]]:
    """One pass over the steps: the digest, the warnings, and the frames that are missing."""
    warnings = list(src.warnings)
    status.show(f"reading the steps of {src.folder.name}")
    d = digest(src.steps(warnings), *limits)
    if src.missing is not None:
        return d, warnings, set(src.missing)
    if src.session.outcome.status == "running":
        warnings.append(UNFINISHED)
    return d, warnings, set(check_frames(src.folder, d.frames, warnings))


def _render(a: Source, b: Source | None, limits: tuple[int, int, int],
            out_dir: Path) -> tuple[Iterator[str], tuple[str, ...]]:
    da, warnings, missing = _read(a, limits)
    db = None
    if b is not None:
        db, other_warnings, _ = _read(b, (0, 0, 0))
        warnings += [f"{b.folder}: {w}" for w in other_warnings]
    full = [s for _, s in da.full]
    budget = _IMAGE_BUDGET_SUMMARISED if da.summarised else _IMAGE_BUDGET
    images = embed_frames(a.folder, full, missing, warnings, budget)
    crops = embed_crops(a.folder, full, warnings)
    views = [_step_view(a.session, s, images, crops, position, number)
             for number, (position, s) in enumerate(da.full)]
    rows, divergence = _align(da.lines, db.lines) if db else ([], None)
    diverged = {r.a for r in rows if r.kind != "equal" and r.a is not None}
    for v in views:
        v.diverged = v.position in diverged
    first_error = da.first_error
    chunks = _template().generate(
        folder=a.folder, session=a.session, views=views, blocks=_blocks(a.folder, da, views, diverged, out_dir),
        digest=da, warnings=warnings, images=[*images.values(), *crops.values()], first_error=first_error,
        other=b, other_count=db.count if db else 0, rows=rows, divergence=divergence,
        max_actions=_MAX_ACTIONS_SHOWN)
    return chunks, tuple(warnings)


@cache
def _template() -> Template:
    env = Environment(loader=PackageLoader("agent.recording", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["clip"] = clip
    return env.get_template("report.html.j2")


def _blocks(folder: Path, d: Digest, views: list[StepView], diverged: set[int], out_dir: Path) -> Iterator[Block]:
    """Full steps and, between them, the rows of the steps not shown in full, in recorded order."""
    by_position = {v.position: v for v in views}
    pending = Block()
    for position in range(d.count):
        if (view := by_position.get(position)) is not None:
            if pending.rows or pending.unlisted:
                yield pending
                pending = Block()
            yield Block(view=view)
        elif position < len(d.lines):
            line = d.lines[position]
            pending.rows.append(Row(line, _frame_href(folder, line.frame_before, out_dir), position in diverged))
        else:
            pending.unlisted += 1
    if pending.rows or pending.unlisted:
        yield pending


def _frame_href(folder: Path, name: str | None, out_dir: Path) -> str:
    if not name or not frame_exists(folder, name):
        return ""
    return quote(os.path.relpath(folder / FRAMES_DIR / name, out_dir))


# --------------------------------------------------------------------------- steps


def _step_view(session: Session, step: Step, images: dict[str, EmbeddedImage],
               crops: dict[str, EmbeddedImage], position: int, number: int) -> StepView:
    frame = images.get(step.frame_before) if step.frame_before else None
    screen = session.screen
    size = (frame.width, frame.height) if frame else (screen.width, screen.height) if screen else (1920, 1080)
    overlays: list[Overlay] = []
    paths: list[str] = []
    ox, oy = step.frame_origin.x, step.frame_origin.y
    for action in step.actions[:_MAX_ACTIONS_SHOWN]:
        overlays += _overlays(action, size, ox, oy)
        if isinstance(action, Drag):
            stride = max(1, len(action.path) // _MAX_PATH_POINTS)
            points = [*action.path[:-1:stride], action.path[-1]]
            paths.append(" ".join(f"{p.x - ox},{p.y - oy}" for p in points))
    after = images.get(step.frame_after) if step.frame_after and step.frame_after != step.frame_before else None
    return StepView(step, frame, after, size, overlays, paths, _action_views(step, crops), position=position,
                    number=number)


def _action_views(step: Step, crops: dict[str, EmbeddedImage]) -> list[ActionView]:
    views = []
    for i, action in enumerate(step.actions[:_MAX_ACTIONS_SHOWN]):
        target = getattr(action, "target", None)
        crop = crops.get(target.crop_hash) if target is not None and target.crop_hash else None
        coords = step.model_coordinates[i] if i < len(step.model_coordinates) else ""
        views.append(ActionView(action, coords, step.results[i] if i < len(step.results) else None, crop))
    return views


def _overlays(action: Action, size: tuple[int, int], ox: int, oy: int) -> list[Overlay]:
    w, h = size

    def at(kind: str, x: int, y: int, label: str = "") -> Overlay:
        return Overlay(kind, (x - ox) * 100 / w, (y - oy) * 100 / h, x=x, y=y, label=label)

    marks: list[Overlay] = []
    target = getattr(action, "target", None)
    if target is not None and target.bbox is not None:
        b = target.bbox
        marks.append(Overlay("target", (b.left - ox) * 100 / w, (b.top - oy) * 100 / h, b.width * 100 / w,
                             b.height * 100 / h, label=clip(target.label or "", 200)))
    match action:
        case Click(x=x, y=y, count=count):
            marks.append(at("click", x, y, "" if count == 1 else f"x{count}"))
        case Move(x=x, y=y):
            marks.append(at("move", x, y))
        case Scroll(x=x, y=y, dx=dx, dy=dy):
            arrow = "↓" if dy > 0 else "↑" if dy < 0 else "→" if dx > 0 else "←"
            marks.append(at("scroll", x, y, f"{arrow}{abs(dy or dx)}"))
        case Drag(path=path):
            marks += [at("drag-start", path[0].x, path[0].y), at("drag-end", path[-1].x, path[-1].y)]
    return marks


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True)
class DiffRow:
    kind: str             # equal | replace | delete (only in A) | insert (only in B)
    a: int | None         # position in A's steps
    b: int | None
    a_step: StepLine | None
    b_step: StepLine | None


def _align(a: Sequence[Step] | Sequence[StepLine], b: Sequence[Step] | Sequence[StepLine]
           ) -> tuple[list[DiffRow], int | None]:
    """Rows of the alignment and the row index of the first divergence (None if the runs agree)."""
    la, lb = _lines(a), _lines(b)
    matcher = difflib.SequenceMatcher(None, [s.signature for s in la], [s.signature for s in lb], autojunk=False)
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            i = i1 + k if i1 + k < i2 else None
            j = j1 + k if j1 + k < j2 else None
            kind = tag if tag in ("equal", "replace") else "delete" if j is None else "insert"
            if tag == "replace" and (i is None or j is None):
                kind = "delete" if j is None else "insert"
            rows.append(DiffRow(kind, i, j, la[i] if i is not None else None, lb[j] if j is not None else None))
    divergence = next((n for n, r in enumerate(rows) if r.kind != "equal"), None)
    return rows, divergence


def _lines(steps: Sequence[Step] | Sequence[StepLine]) -> list[StepLine]:
    lines: list[StepLine] = []
    for n, s in enumerate(steps):
        if isinstance(s, Step):
            lines.append(line_of(s, n))
        elif isinstance(s, StepLine):
            lines.append(s)
    return lines
