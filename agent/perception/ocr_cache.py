"""OCR only what changed: a region cache in front of an `OcrEngine`.

    reader = OcrReader(RapidOcrEngine())
    result = reader.read(screenshot)          # first call: every non-flat region of the frame
    result = reader.read(next_screenshot)     # later: only the changed regions, the rest reused

The first read (or one after a size change, or when more than `full_fraction` of the frame
changed) OCRs the frame's content regions; flat background is skipped. Later reads compare tiles
with the previous frame, grow each changed region to whole cached lines it cuts (plus a margin),
drop the cached lines there and OCR just those crops. Boxes come out in screen space.
A failing engine yields an empty result with `error` set, never an exception.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image

from actions.desktop import Screenshot
from actions.models import Box
from agent.perception import regions as rg
from agent.perception.elements import Element
from agent.perception.ocr import OcrEngine, OcrUnavailable, TextLine

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
                 full_fraction: float = 0.6) -> None:
        self.engine = engine
        self.tile, self.margin, self.merge_gap, self.full_fraction = tile, margin, merge_gap, full_fraction
        self._state: _State | None = None

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
            fresh = [line for region in regions for line in self._read_region(image, origin, region)]
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
        grown = [rg.expand(b, self.margin, image.size) for b in boxes]
        cached = [rg.expand(self._local(ln.box, origin), self.margin, image.size) for ln in state.lines]
        while True:  # grow regions over every cached line they cut, until stable
            merged = rg.merge_boxes(grown, self.merge_gap)
            cut = [c for c in cached if any(rg.intersection(c, r) for r in merged)]
            regrown = rg.merge_boxes(merged + cut, self.merge_gap)
            if regrown == merged:
                return merged
            grown = regrown

    def _read_region(self, image: Image.Image, origin: tuple[int, int], region: Box) -> list[TextLine]:
        crop = image.crop((region.left, region.top, region.right, region.bottom))
        low, high = crop.convert("L").getextrema()
        if low == high:  # flat: nothing to read
            return []
        crop.info["origin"] = (region.left + origin[0], region.top + origin[1])
        dx, dy = crop.info["origin"]
        return [TextLine(text=ln.text, confidence=ln.confidence,
                         box=Box(left=ln.box.left + dx, top=ln.box.top + dy,
                                 right=ln.box.right + dx, bottom=ln.box.bottom + dy))
                for ln in self.engine.read(crop)]

    @staticmethod
    def _local(box: Box, origin: tuple[int, int]) -> Box:
        return Box(left=box.left - origin[0], top=box.top - origin[1],
                   right=box.right - origin[0], bottom=box.bottom - origin[1])

    @staticmethod
    def _screen(box: Box, origin: tuple[int, int]) -> Box:
        return Box(left=box.left + origin[0], top=box.top + origin[1],
                   right=box.right + origin[0], bottom=box.bottom + origin[1])
