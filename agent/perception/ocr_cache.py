"""OCR only what changed: a region cache in front of an `OcrEngine`.

    reader = OcrReader(RapidOcrEngine())
    result = reader.read(screenshot)          # first call: every non-flat region of the frame
    result = reader.read(next_screenshot)     # later: only the changed regions, the rest reused

The first read (or one after a size change, or when more than `full_fraction` of the frame
changed) OCRs the frame's content regions; flat background is skipped. Later reads compare tiles
with the previous frame, grow each changed region to whole cached lines it cuts (plus a margin),
drop the cached lines there and OCR just those crops. Tall regions are cut into bands at rows
without ink, and bands are read in parallel when the engine has several workers. A crop whose
pixels were read before (a title bar going active/inactive, a key's hover highlight) is not read
again: the last `remember` crops' results are kept by pixel hash. Boxes come out in screen space, shrunk to
the ink of the text (detectors pad their boxes, which then spill over small widgets).
A failing engine yields an empty result with `error` set, never an exception.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from actions.desktop import Screenshot
from actions.models import Box
from agent.perception import regions as rg
from agent.perception.elements import Element
from agent.perception.ocr import OcrEngine, OcrUnavailable, TextLine, is_icon_noise

log = logging.getLogger(__name__)

SECOND_LOOK_BELOW = 0.9  # confidence under which a short label is re-read on its own


@dataclass(frozen=True)
class OcrResult:
    """Lines in screen space, what was read, what was reused, and why it is empty if it is."""

    lines: tuple[TextLine, ...]
    regions: tuple[Box, ...] = ()
    reused: int = 0
    full: bool = False
    elapsed_s: float = 0.0
    error: str | None = None

    def elements(self, start_id: int = 0) -> list[Element]:
        return lines_to_elements(self.lines, start_id)


def lines_to_elements(lines: Sequence[TextLine], start_id: int = 0) -> list[Element]:
    """OCR lines -> Elements (role "text"), in reading order, ids from `start_id`."""
    ordered = sorted(lines, key=lambda ln: (ln.box.top // 8, ln.box.left))
    return [Element(id=start_id + i, text=ln.text, role="text", box=ln.box, source="ocr",
                    confidence=max(0.0, min(1.0, ln.confidence))) for i, ln in enumerate(ordered)]


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
        self._seen_lock = threading.Lock()
        self.tighten = tighten
        self.tile, self.margin, self.merge_gap, self.full_fraction = tile, margin, merge_gap, full_fraction
        self._state: _State | None = None

    def _remember(self, key: bytes, lines: list[TextLine]) -> None:
        with self._seen_lock:
            self._seen[key] = lines
            while len(self._seen) > self.remember:
                self._seen.pop(next(iter(self._seen)))

    def reset(self) -> None:
        """Forget the cache (the next read is a full one)."""
        self._state = None

    def read(self, shot: Screenshot, changed: Sequence[Box] | None = None) -> OcrResult:
        """OCR `shot`, reusing cached lines outside the changed regions.

        `changed` (screen space) overrides the tile comparison, e.g. with a settle diff; it must
        cover every change or stale lines survive.
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
            kept: list[TextLine] = []
        else:
            assert state is not None and regions is not None
            kept = [ln for ln in state.lines if not any(rg.intersection(self._local(ln.box, origin), r)
                                                        for r in regions)]
        try:
            fresh = self._read_all(image, origin, regions)
        except OcrUnavailable as e:
            log.warning("OCR unavailable: %s", e)
            return OcrResult(lines=(), error=str(e), elapsed_s=time.perf_counter() - start)
        lines = kept + fresh
        self._state = _State(image=image, origin=origin, lines=lines)
        elapsed = time.perf_counter() - start
        log.debug("ocr: %s, %d regions, %d new lines, %d reused, %.0f ms", "full" if full else "partial",
                  len(regions), len(fresh), len(kept), elapsed * 1000)
        return OcrResult(lines=tuple(lines), regions=tuple(self._screen(r, origin) for r in regions),
                         reused=len(kept), full=full, elapsed_s=elapsed)

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

    def _read_all(self, image: Image.Image, origin: tuple[int, int], regions: Sequence[Box]) -> list[TextLine]:
        """Read every region; split tall ones into bands and read them on the engine's workers."""
        gray = np.asarray(image.convert("L"))
        bands = sorted((band for r in regions for band in rg.split_tall(gray, r)), key=rg.area, reverse=True)
        workers = min(int(getattr(self.engine, "workers", 1)), len(bands))
        if workers <= 1:
            return [line for band in bands for line in self._read_region(image, origin, band)]
        with ThreadPoolExecutor(workers, thread_name_prefix="ocr") as pool:
            results = list(pool.map(lambda band: self._read_region(image, origin, band), bands))
        return [line for lines in results for line in lines]

    def _read_region(self, image: Image.Image, origin: tuple[int, int], region: Box) -> list[TextLine]:
        crop = image.crop((region.left, region.top, region.right, region.bottom))
        low, high = crop.convert("L").getextrema()
        if low == high:  # flat: nothing to read
            return []
        crop.info["origin"] = (region.left + origin[0], region.top + origin[1])
        dx, dy = crop.info["origin"]
        key = hashlib.blake2b(crop.tobytes(), digest_size=16, person=b"%dx%d" % crop.size).digest()
        lines = self._seen.get(key)
        if lines is None:
            lines = self.engine.read(crop)
            self._remember(key, lines)
        gray = np.asarray(crop.convert("L")) if self.tighten and lines else None
        out = []
        for ln in lines:
            b = rg.tighten(gray, ln.box) if gray is not None else ln.box
            if ln.confidence < SECOND_LOOK_BELOW and len(ln.text) <= 3:
                ln = self._second_look(crop, b, ln)
            out.append(TextLine(text=ln.text, confidence=ln.confidence,
                                box=Box(left=b.left + dx, top=b.top + dy, right=b.right + dx, bottom=b.bottom + dy)))
        return out

    def _second_look(self, crop: Image.Image, box: Box, line: TextLine) -> TextLine:
        """Re-read a short, unsure label alone, enlarged, on a plain margin of its background: the
        recogniser reads lone small symbols ("+", "=", "*") far better that way."""
        recognise = getattr(self.engine, "recognise", None)
        if recognise is None or box.width < 2 or box.height < 2:
            return line
        glyph = crop.crop((box.left, box.top, box.right, box.bottom))
        background = tuple(int(v) for v in np.median(np.asarray(crop.convert("RGB")).reshape(-1, 3), axis=0))
        canvas = Image.new("RGB", (box.width + 8, box.height + 8), background)
        canvas.paste(glyph.convert("RGB"), (4, 4))
        factor = max(1, min(4, round(36 / canvas.height)))  # small glyphs read better enlarged
        if factor > 1:
            canvas = canvas.resize((canvas.width * factor, canvas.height * factor), Image.Resampling.LANCZOS)
        text, score = recognise(canvas)
        if text and score > line.confidence and not is_icon_noise(text):
            log.debug("second look: %r (%.2f) -> %r (%.2f)", line.text, line.confidence, text, score)
            return TextLine(text=text, box=line.box, confidence=score)
        return line

    @staticmethod
    def _local(box: Box, origin: tuple[int, int]) -> Box:
        return Box(left=box.left - origin[0], top=box.top - origin[1],
                   right=box.right - origin[0], bottom=box.bottom - origin[1])

    @staticmethod
    def _screen(box: Box, origin: tuple[int, int]) -> Box:
        return Box(left=box.left + origin[0], top=box.top + origin[1],
                   right=box.right + origin[0], bottom=box.bottom + origin[1])
