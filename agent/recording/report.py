"""A self-contained HTML report of a recording: one file, no network, written by `uiagent show`.

Every distinct frame is embedded once, as a CSS class holding a JPEG data URI (downscaled to at
most 1280 px wide; quality drops further if the file would pass ~18 MB). Markers are absolutely
positioned HTML/SVG overlays in percent of the frame, so they stay on the recorded screen point at
any displayed size. `--diff B` aligns two runs step by step (difflib on step signatures: action
kind + target label, or the typed text / key chord) and marks where they diverge.
"""

from __future__ import annotations

import base64
import difflib
import io
import logging
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from PIL import Image, UnidentifiedImageError

from actions.errors import UsageError
from actions.models import Action, ActionResult, Click, Drag, Key, Move, Scroll, Type
from agent.planners.base import Usage
from agent.recording.format import Recording, Step, load_recording

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
# (max width, JPEG quality) tried in order until the embedded images fit the budget.
_ENCODINGS = ((1280, 70), (960, 60), (720, 50))
_IMAGE_BUDGET = 18_000_000  # bytes of base64 image data; the page must stay under 20 MB


@dataclass(frozen=True)
class Written:
    """What `write_report` did: the file, and what was missing or skipped along the way."""

    path: Path
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmbeddedImage:
    css: str          # CSS class that carries the image
    data_uri: str
    width: int        # size of the recorded image (markers are placed against it)
    height: int


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


def write_report(recording: Path | str, out: Path | None = None, diff: Path | str | None = None) -> Written:
    """Render `recording` (optionally against `diff`) to `out` (default RECORDING/report.html).

    Only that one file is written, atomically. Bad input is one UsageError line."""
    rec = load_recording(recording)
    other = load_recording(diff) if diff is not None else None
    target = _output_path(rec, other, out)
    html, warnings = render_report(rec, other)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(html)
        os.replace(tmp, target)
    except OSError as e:
        raise UsageError(f"cannot write the report {target}: {e.strerror} (choose another place with --out)") from None
    log.info("report written to %s (%d bytes)", target, len(html))
    return Written(target, warnings)


def _output_path(rec: Recording, other: Recording | None, out: Path | None) -> Path:
    if out is None:
        return rec.folder / REPORT_FILE
    target = out.resolve()
    if target.is_dir():
        raise UsageError(f"--out {out} is a folder: give a file name such as {out / REPORT_FILE}")
    for r in (rec, other):
        folder = r.folder.resolve() if r else None
        if folder and folder in target.parents and target != folder / REPORT_FILE:
            raise UsageError(f"refusing to write {out}: inside a recording only {REPORT_FILE} may be written")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write the report {out}: the folder {target.parent} does not exist")
    return target


def render_report(rec: Recording, other: Recording | None = None) -> tuple[str, tuple[str, ...]]:
    """The report's HTML and the warnings (the recording's own, and images that could not be read)."""
    warnings = list(rec.warnings) + ([f"{other.folder}: {w}" for w in other.warnings] if other else [])
    images = _embed_frames(rec, warnings)
    crops = _embed_crops(rec)
    views = [_step_view(rec, s, images, crops) for s in rec.steps]
    rows, divergence = _align(rec.steps, other.steps) if other else ([], None)
    if other:
        for row in rows:
            if row.kind != "equal" and row.a is not None:
                views[row.a].diverged = True
    env = Environment(loader=PackageLoader("agent.recording", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    first_error = next((s.index for s in rec.steps if s.failed), None)
    html = env.get_template("report.html.j2").render(
        rec=rec, session=rec.session, views=views, totals=_totals(rec.steps), warnings=warnings,
        images=[*images.values(), *crops.values()], first_error=first_error,
        other=other, rows=rows, divergence=divergence)
    return html, tuple(warnings)


# --------------------------------------------------------------------------- images


def _embed_frames(rec: Recording, warnings: list[str]) -> dict[str, EmbeddedImage]:
    names = list(dict.fromkeys(f for s in rec.steps for f in s.frames() if f not in rec.missing_frames))
    images: dict[str, EmbeddedImage] = {}
    for width, quality in _ENCODINGS:
        with ThreadPoolExecutor(max_workers=2) as pool:  # Pillow releases the GIL while coding
            encoded = list(pool.map(partial(_encode, width=width, quality=quality), map(rec.frame_path, names)))
        images = {n: EmbeddedImage(f"f{i}", *e) for i, (n, e) in enumerate(zip(names, encoded)) if e}
        if sum(len(e.data_uri) for e in images.values()) <= _IMAGE_BUDGET:
            break
    unreadable = [n for n, e in zip(names, encoded) if e is None]
    if unreadable:
        warnings.append(f"{len(unreadable)} frame(s) could not be read: {', '.join(unreadable[:5])}")
    return images


def _embed_crops(rec: Recording) -> dict[str, EmbeddedImage]:
    hashes = list(dict.fromkeys(c for s in rec.steps for c in s.crops()))
    crops: dict[str, EmbeddedImage] = {}
    for i, h in enumerate(hashes):
        if (e := _encode(rec.crop_path(h), 256, 85, png=True)) is not None:
            crops[h] = EmbeddedImage(f"c{i}", *e)
    return crops


def _encode(path: Path, width: int, quality: int, png: bool = False) -> tuple[str, int, int] | None:
    """(data URI, original width, original height), or None if the file is missing or unreadable."""
    try:
        with Image.open(path) as original:
            size = original.size
            img = original.convert("RGB")
        if img.width > width:
            img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.BOX)  # BOX: 2x faster, fine for downscaling
        buf = io.BytesIO()
        img.save(buf, "PNG" if png else "JPEG", quality=quality)
    except (OSError, UnidentifiedImageError, ValueError) as e:
        log.warning("cannot read %s: %s", path, e)
        return None
    mime = "image/png" if png else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode()}", *size


# --------------------------------------------------------------------------- steps


def _step_view(rec: Recording, step: Step, images: dict[str, EmbeddedImage],
               crops: dict[str, EmbeddedImage]) -> StepView:
    frame = images.get(step.frame_before) if step.frame_before else None
    screen = rec.session.screen
    size = (frame.width, frame.height) if frame else (screen.width, screen.height) if screen else (1920, 1080)
    overlays: list[Overlay] = []
    paths: list[str] = []
    ox, oy = step.frame_origin.x, step.frame_origin.y
    for action in step.actions:
        overlays += _overlays(action, size, ox, oy)
        if isinstance(action, Drag):
            paths.append(" ".join(f"{p.x - ox},{p.y - oy}" for p in action.path))
    after = images.get(step.frame_after) if step.frame_after and step.frame_after != step.frame_before else None
    return StepView(step, frame, after, size, overlays, paths, _action_views(step, crops))


def _action_views(step: Step, crops: dict[str, EmbeddedImage]) -> list[ActionView]:
    views = []
    for i, action in enumerate(step.actions):
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
                             b.height * 100 / h, label=target.label or ""))
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


@dataclass(frozen=True)
class Totals:
    steps: int
    failed: int
    usage: Usage
    duration_s: float


def _totals(steps: Sequence[Step]) -> Totals:
    usage = sum((s.usage for s in steps), Usage())
    duration = (steps[-1].ended - steps[0].started).total_seconds() if steps else 0.0
    return Totals(len(steps), sum(1 for s in steps if s.failed), usage, duration)


# --------------------------------------------------------------------------- diff


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
        parts.append(f"{a.kind}:{detail}")
    return tuple(parts)


@dataclass(frozen=True)
class DiffRow:
    kind: str             # equal | replace | delete (only in A) | insert (only in B)
    a: int | None         # position in A's steps
    b: int | None
    a_step: Step | None
    b_step: Step | None


def _align(a: Sequence[Step], b: Sequence[Step]) -> tuple[list[DiffRow], int | None]:
    """Rows of the alignment and the row index of the first divergence (None if the runs agree)."""
    matcher = difflib.SequenceMatcher(None, [signature(s) for s in a], [signature(s) for s in b], autojunk=False)
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            i = i1 + k if i1 + k < i2 else None
            j = j1 + k if j1 + k < j2 else None
            kind = tag if tag in ("equal", "replace") else "delete" if j is None else "insert"
            if tag == "replace" and (i is None or j is None):
                kind = "delete" if j is None else "insert"
            rows.append(DiffRow(kind, i, j, a[i] if i is not None else None, b[j] if j is not None else None))
    divergence = next((n for n, r in enumerate(rows) if r.kind != "equal"), None)
    return rows, divergence
