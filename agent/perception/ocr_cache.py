"""OCR only what changed: a region cache in front of an `OcrEngine`.

    reader = OcrReader(RapidOcrEngine())
    result = reader.read(screenshot)          # first call: every non-flat region of the frame
    result = reader.read(next_screenshot)     # later: only the changed regions, the rest reused

The first read (or one after a size change, or when more than `full_fraction` of the frame
changed) OCRs the frame's content regions; flat background is skipped. Later reads compare tiles
with the previous frame, grow each changed region to whole cached lines it cuts (plus a margin),
drop the cached lines there and OCR just those crops. Tall regions are cut into bands at rows
without ink, and bands into stretches of columns with ink (a spreadsheet's empty grid, rule lines
and empty stretches are not read). With a staged engine (rapidocr) detection, recognition and the
second looks of unsure short labels run as one queue on the engine's workers
(`ocr_staged.StagedRead`): lines of similar width are recognised together, and recognition starts
while the last bands are still being detected. A crop whose pixels were read before
(a title bar going active/inactive, a key's hover highlight) is not read again: the last
`remember` crops' final lines are kept by pixel hash. Boxes come out in screen space, shrunk to
the ink of the text (detectors pad their boxes, which then spill over small widgets).
`known` (a callable giving the screen boxes whose text is known so far, e.g. the named buttons and
menus accessibility has found; it must answer at once) is asked before each recognition batch:
lines inside those are not recognised (LibreOffice's toolbar icons alone were a third of its
lines), and lines inside the boxes known at the end are not returned. A failing engine yields an empty
result with `error` set, never an exception.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from actions.desktop.base import Screenshot
from actions.models import Box
from agent.perception import regions as rg
from agent.perception.elements import Element
from agent.perception.ocr import OcrEngine, OcrUnavailable, StagedOcrEngine, TextLine
from agent.perception.ocr_staged import (
    Crop,
    Memory,
    Skip,
    StagedRead,
    background,
    better,
    canvas,
    wants_second_look,
)

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class OcrResult:
    """Lines in screen space, what was read, what was reused, and why it is empty if it is."""

    lines: tuple[TextLine, ...]
    regions: tuple[Box, ...] = ()
    reused: int = 0
    full: bool = False
    elapsed_s: float = 0.0
    error: str | None = None
    stages_ms: dict[str, float] = field(default_factory=dict)  # detect, recognise, second look
    skipped: int = 0  # detected lines not recognised or not kept: inside `known` boxes
    skipped_boxes: tuple[Box, ...] = ()  # where those lines were (screen space)

    def elements(self, start_id: int = 0) -> list[Element]:
        return lines_to_elements(self.lines, start_id)


def lines_to_elements(lines: Sequence[TextLine], start_id: int = 0) -> list[Element]:
    """OCR lines -> Elements (role "text"), in reading order, ids from `start_id`."""
    ordered = sorted(lines, key=lambda ln: (ln.box.top // 8, ln.box.left))
    return [Element(id=start_id + i, text=ln.text, role="text", box=ln.box, source="ocr",
                    confidence=max(0.0, min(1.0, ln.confidence))) for i, ln in enumerate(ordered)]


@dataclass
class _Job:
    """One crop to read: its box (image pixels), pixels, grey ink, pixel hash and, once read,
    its lines (crop pixels)."""

    band: Box
    crop: Image.Image
    ink: np.ndarray
    key: bytes
    lines: list[TextLine] | None = None


@dataclass
class _State:
    image: Image.Image
    origin: tuple[int, int]
    lines: list[TextLine] = field(default_factory=list)


class OcrReader:
    """Region-cached OCR over consecutive frames of one screen (see the module docstring)."""

    def __init__(self, engine: OcrEngine, tile: int = rg.TILE, margin: int = 6, merge_gap: int = 12,
                 full_fraction: float = 0.6, tighten: bool = True, remember: int = 256) -> None:
        self.engine = engine
        self.remember = remember
        self._seen: dict[bytes, list[TextLine]] = {}  # crop pixels -> lines: states recur
        self._lines_seen: dict[bytes, tuple[str, float]] = {}  # one line's ink -> (text, score)
        self._seen_lock = threading.Lock()
        self.tighten = tighten
        self.tile, self.margin, self.merge_gap, self.full_fraction = tile, margin, merge_gap, full_fraction
        self._state: _State | None = None
        self.last_image: Image.Image | None = None  # the image of the last read (as given)
        self._stages: dict[str, float] = {}  # of the read in progress
        self._skipped: list[Box] = []

    def _remember(self, store: dict[bytes, Any], key: bytes, value: Any, limit: int) -> None:
        """Keep `value` under `key` in `store`, forgetting the oldest entries past `limit`."""
        with self._seen_lock:
            store[key] = value
            while len(store) > limit:
                store.pop(next(iter(store)))

    def prepare(self) -> None:
        """Load the engine's models now if it can (a staged engine), not inside the first read;
        a failure is left for `read` to report."""
        if isinstance(self.engine, StagedOcrEngine):
            try:
                self.engine.load()
            except OcrUnavailable:
                pass

    def read(self, shot: Screenshot, changed: Sequence[Box] | None = None,
             known: Callable[[], Sequence[Box]] | None = None) -> OcrResult:
        """OCR `shot`, reusing cached lines outside the changed regions.

        `changed` (screen space) overrides the tile comparison, e.g. with a settle diff; it must
        cover every change or stale lines survive. `known`: see the module docstring.
        """
        start = time.perf_counter()
        image, origin = shot.image.convert("RGB"), (shot.left, shot.top)
        state = self._state
        regions = self._dirty(state, image, origin, changed) if state else None
        frame_area = image.width * image.height
        full = regions is None or sum(rg.area(r) for r in regions) > self.full_fraction * frame_area
        if full:
            content = rg.content_regions(image, self.tile)
            regions = rg.merge_boxes([rg.expand(b, self.margin, image.size) for b in content], self.merge_gap)
            kept, dropped = [], []
        else:
            assert state is not None and regions is not None
            cut = [any(rg.intersection(self._local(ln.box, origin), r) for r in regions) for ln in state.lines]
            kept = [ln for ln, c in zip(state.lines, cut) if not c]
            dropped = [ln for ln, c in zip(state.lines, cut) if c]
        try:
            self._stages, self._skipped = {}, []
            fresh = self._read_all(image, origin, regions, known)
        except OcrUnavailable as e:
            log.warning("OCR unavailable: %s", e)
            return OcrResult(lines=(), error=str(e), elapsed_s=time.perf_counter() - start)
        if dropped:
            assert state is not None
            kept += self._unmoved(state, image, origin, dropped, fresh)
        lines = kept + fresh
        self._state = _State(image=image, origin=origin, lines=lines)
        self.last_image = shot.image
        elapsed = time.perf_counter() - start
        log.debug("ocr: %s, %d regions, %d new lines, %d reused, %.0f ms", "full" if full else "partial",
                  len(regions), len(fresh), len(kept), elapsed * 1000)
        return OcrResult(lines=tuple(lines), regions=tuple(self._screen(r, origin) for r in regions),
                         reused=len(kept), full=full, elapsed_s=elapsed, skipped=len(self._skipped),
                         skipped_boxes=tuple(self._skipped),
                         stages_ms={k: round(v * 1000, 1) for k, v in self._stages.items()})

    def _unmoved(self, state: _State, image: Image.Image, origin: tuple[int, int], dropped: Sequence[TextLine],
                 fresh: Sequence[TextLine]) -> list[TextLine]:
        """The cached lines of the re-read regions whose own pixels did not change and which the
        re-read found nothing at: a change around a label (a key's hover frame on xcalc) must not
        lose it when its crop alone reads worse than the frame did (a lone "1" in a small crop)."""
        out = []
        for ln in dropped:
            box = self._local(ln.box, origin)
            area = (box.left - 1, box.top - 1, box.right + 1, box.bottom + 1)
            if any(rg.intersection(box, self._local(f.box, origin)) for f in fresh):
                continue
            if np.array_equal(np.asarray(state.image.crop(area)), np.asarray(image.crop(area))):
                out.append(ln)
        return out

    # -- regions (in image pixels; lines are stored in screen space)

    def _dirty(self, state: _State, image: Image.Image, origin: tuple[int, int],
               changed: Sequence[Box] | None) -> list[Box] | None:
        if state.image.size != image.size or state.origin != origin:
            return None
        if changed is None:
            boxes = rg.changed_regions(state.image, image, self.tile)
        else:
            boxes = [self._local(b, origin) for b in changed]
        if not boxes:
            return []
        regions = rg.merge_boxes([rg.expand(b, self.margin, image.size) for b in boxes])
        cached = [self._local(ln.box, origin) for ln in state.lines]
        while True:  # grow each region over the cached lines it cuts (plus a margin), until stable
            cut = [rg.expand(c, 2, image.size) for c in cached if any(rg.intersection(c, r) for r in regions)]
            grown = rg.merge_boxes(regions + cut)
            if grown == regions:
                return rg.merge_boxes(regions, self.merge_gap) if self.merge_gap else regions
            regions = grown

    def _read_all(self, image: Image.Image, origin: tuple[int, int], regions: Sequence[Box],
                  known: Callable[[], Sequence[Box]] | None = None) -> list[TextLine]:
        """Read every region (tall ones split into bands at rows without ink); crops read before
        are answered from memory. Returns lines in screen space."""
        gray = np.asarray(image.convert("L"))
        jobs = []
        for band in (s for r in regions for b in rg.split_tall(gray, r) for s in rg.split_wide(gray, b)):
            ink = gray[band.top:band.bottom, band.left:band.right]
            if ink.size == 0 or ink.min() == ink.max():  # flat: nothing to read
                continue
            crop = image.crop((band.left, band.top, band.right, band.bottom))
            crop.info["origin"] = (band.left + origin[0], band.top + origin[1])
            key = hashlib.blake2b(crop.tobytes(), digest_size=16, person=b"%dx%d" % crop.size).digest()
            jobs.append(_Job(band, crop, ink, key, self._seen.get(key)))
        todo = sorted((j for j in jobs if j.lines is None), key=lambda j: rg.area(j.band), reverse=True)
        if todo:
            skip = Skip(known, origin)
            reads = self._read_staged(todo, skip) if isinstance(self.engine, StagedOcrEngine) \
                else self._read_each(todo, skip)
            for job, lines in zip(todo, reads):
                job.lines = lines
                if job.band not in skip.cut:  # a crop read in part is not the crop's reading
                    self._remember(self._seen, job.key, lines, self.remember)
            self._skipped = skip.boxes
        dx, dy = origin
        return [TextLine(text=ln.text, confidence=ln.confidence,
                         box=Box(left=ln.box.left + j.band.left + dx, top=ln.box.top + j.band.top + dy,
                                 right=ln.box.right + j.band.left + dx, bottom=ln.box.bottom + j.band.top + dy))
                for j in jobs for ln in j.lines or ()]

    def _read_each(self, jobs: Sequence[_Job], skip: Skip) -> list[list[TextLine]]:
        """Any engine: read each crop whole (in parallel on the engine's workers), then finish."""
        workers = min(int(getattr(self.engine, "workers", 1)), len(jobs))
        if workers <= 1:
            raw = [self.engine.read(j.crop) for j in jobs]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="ocr") as pool:
                raw = list(pool.map(lambda j: self.engine.read(j.crop), jobs))
        lines = [skip.drop(j.band, self._tightened(j, r), lambda ln: ln.box) for j, r in zip(jobs, raw)]
        recognise = getattr(self.engine, "recognise", None)
        if recognise is None:
            return lines
        return self._second_looks(jobs, lines, recognise)

    def _read_staged(self, jobs: Sequence[_Job], skip: Skip) -> list[list[TextLine]]:
        """Detection, recognition and second looks as one queue on the engine's workers
        (`ocr_staged.StagedRead`); a line whose ink was read before is not read again."""
        assert isinstance(self.engine, StagedOcrEngine)
        memory = Memory(recall=self._lines_seen.get,
                        keep=lambda key, reading: self._remember(self._lines_seen, key, reading, 8 * self.remember))
        read = StagedRead(self.engine, [Crop(j.band, j.crop, j.ink) for j in jobs], skip, memory, self.tighten)
        lines = read.run()
        self._stages.update(read.stages)
        return lines

    def _tightened(self, job: _Job, lines: list[TextLine]) -> list[TextLine]:
        if not self.tighten:
            return lines
        return [TextLine(text=ln.text, confidence=ln.confidence, box=rg.tighten(job.ink, ln.box)) for ln in lines]

    def _second_looks(self, jobs: Sequence[_Job], lines: list[list[TextLine]],
                      recognise: Callable[[Image.Image], tuple[str, float]]) -> list[list[TextLine]]:
        """Re-read short, unsure labels alone, enlarged, on a plain margin of their background
        (`ocr_staged.wants_second_look`): the recogniser reads lone small symbols ("+", "=", "*")
        far better that way."""
        backgrounds: dict[int, tuple[int, ...]] = {}
        out = []
        for ji, job_lines in enumerate(lines):
            looked = []
            for ln in job_lines:
                if wants_second_look(ln):
                    bg = backgrounds.get(ji) or backgrounds.setdefault(ji, background(jobs[ji].crop))
                    ln = better(ln, recognise(canvas(jobs[ji].crop, ln.box, bg)))
                looked.append(ln)
            out.append(looked)
        return out

    @staticmethod
    def _local(box: Box, origin: tuple[int, int]) -> Box:
        return Box(left=box.left - origin[0], top=box.top - origin[1],
                   right=box.right - origin[0], bottom=box.bottom - origin[1])

    @staticmethod
    def _screen(box: Box, origin: tuple[int, int]) -> Box:
        return Box(left=box.left + origin[0], top=box.top + origin[1],
                   right=box.right + origin[0], bottom=box.bottom + origin[1])
