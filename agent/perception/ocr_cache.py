"""OCR only what changed: a region cache in front of an `OcrEngine`.

    reader = OcrReader(RapidOcrEngine())
    result = reader.read(screenshot)          # first call: every non-flat region of the frame
    result = reader.read(next_screenshot)     # later: only the changed regions, the rest reused

The first read (or one after a size change, or when more than `full_fraction` of the frame
changed) OCRs the frame's content regions; flat background is skipped. Later reads compare tiles
with the previous frame, grow each changed region to whole cached lines it cuts (plus a margin),
drop the cached lines there and OCR just those crops. Tall regions are cut into bands at rows
without ink, and bands into stretches of columns with ink (a spreadsheet's empty grid, rule lines
and empty stretches are not read). With a staged engine (rapidocr) text is detected in every band on the engine's
workers, then all the lines are recognised together, dealt evenly to the workers, then the
unsure short labels get a second look, in one batch too. A crop whose pixels were read before
(a title bar going active/inactive, a key's hover highlight) is not read again: the last
`remember` crops' final lines are kept by pixel hash. Boxes come out in screen space, shrunk to
the ink of the text (detectors pad their boxes, which then spill over small widgets).
`known` (a callable giving screen boxes whose text is already known, e.g. the named buttons and
menus accessibility found) is asked once text is detected: lines inside those are not recognised
(LibreOffice's toolbar icons alone were a third of its lines). A failing engine yields an empty
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
from agent.perception.ocr import OcrEngine, OcrUnavailable, StagedOcrEngine, TextLine, is_icon_noise

log = logging.getLogger(__name__)

SECOND_LOOK_BELOW = 0.9  # confidence under which a short label is re-read on its own
RUN_COST = 1.7  # a recogniser run's own cost, in padded image heights (~80 px at 48 px high)


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
    skipped: int = 0  # detected lines not recognised: inside `known` boxes

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


def _background(crop: Image.Image) -> tuple[int, ...]:
    """The crop's commonest-looking colour (per-channel median of a sparse sample)."""
    pixels = np.asarray(crop.convert("RGB"))[::3, ::3].reshape(-1, 3)
    return tuple(int(v) for v in np.median(pixels, axis=0))


def _canvas(crop: Image.Image, box: Box, background: tuple[int, ...]) -> Image.Image:
    """The glyphs in `box` on a 4 px margin of `background`, enlarged to ~36 px high."""
    glyph = crop.crop((box.left, box.top, box.right, box.bottom))
    canvas = Image.new("RGB", (box.width + 8, box.height + 8), background)
    canvas.paste(glyph.convert("RGB"), (4, 4))
    factor = max(1, min(4, round(36 / canvas.height)))  # small glyphs read better enlarged
    if factor > 1:
        canvas = canvas.resize((canvas.width * factor, canvas.height * factor), Image.Resampling.LANCZOS)
    return canvas


def _ink_key(pixels: np.ndarray, box: Box | None, kind: bytes) -> bytes:
    """A hash of the pixels in `box` (all of them when None): the same ink reads the same."""
    if box is not None:
        pixels = pixels[max(box.top, 0):box.bottom, max(box.left, 0):box.right]
    shape = b"x".join(b"%d" % n for n in pixels.shape)
    return hashlib.blake2b(np.ascontiguousarray(pixels).tobytes(), digest_size=16,
                           person=(kind + shape)[:16]).digest()


def plan_batches(ratios: Sequence[float], waste: float = RUN_COST, most: int = 8) -> list[list[int]]:
    """Group line images (by width/height `ratios`, already at least the recogniser's minimum)
    into batches of at most `most`: the recogniser pads a batch to its widest image, so images of
    similar width go together, and a new batch starts once padding would waste more than a run
    costs (`waste`, in image heights). Small batches share out evenly (each
    image costs ~10 ms plus ~0.2 ms per padded column here, batched or not). Indices returned."""
    order = sorted(range(len(ratios)), key=lambda i: ratios[i])
    batches: list[list[int]] = []
    for i in order:
        last = batches[-1] if batches else None
        if last is not None and len(last) < most and len(last) * (ratios[i] - ratios[last[-1]]) <= waste:
            last.append(i)
        else:
            batches.append([i])
    return batches


def share_out(batches: list[list[int]], ratios: Sequence[float], workers: int) -> list[list[list[int]]]:
    """Batches to workers, largest first to the least loaded (cost: count x widest + a run)."""
    shares: list[list[list[int]]] = [[] for _ in range(min(workers, len(batches)))]
    load = [0.0] * len(shares)
    for batch in sorted(batches, key=lambda b: len(b) * ratios[b[-1]], reverse=True):
        w = load.index(min(load))
        shares[w].append(batch)
        load[w] += len(batch) * ratios[batch[-1]] + RUN_COST
    return shares


@dataclass
class _State:
    image: Image.Image
    origin: tuple[int, int]
    lines: list[TextLine] = field(default_factory=list)


class _Known:
    """The boxes (screen space) whose text is known, asked for once, when first needed; drops
    the detections inside one of them and remembers which crops lost some."""

    def __init__(self, known: Callable[[], Sequence[Box]] | None, origin: tuple[int, int]) -> None:
        self._known, self.origin = known, origin
        self._boxes: Sequence[Box] | None = None
        self.cut: set[Box] = set()
        self.count = 0

    def drop(self, band: Box, items: list[Any], box_of: Callable[[Any], Box]) -> list[Any]:
        if self._known is None:
            return items
        if self._boxes is None:
            self._boxes = self._known()
        if not self._boxes:
            return items
        dx, dy = band.left + self.origin[0], band.top + self.origin[1]
        kept = [it for it in items if not any(rg.inside(_moved(box_of(it), dx, dy), k) for k in self._boxes)]
        if len(kept) < len(items):
            self.cut.add(band)
            self.count += len(items) - len(kept)
        return kept


def _moved(box: Box, dx: int, dy: int) -> Box:
    return Box(left=box.left + dx, top=box.top + dy, right=box.right + dx, bottom=box.bottom + dy)


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
        self._skipped = 0

    def _remember(self, store: dict[bytes, Any], key: bytes, value: Any, limit: int) -> None:
        """Keep `value` under `key` in `store`, forgetting the oldest entries past `limit`."""
        with self._seen_lock:
            store[key] = value
            while len(store) > limit:
                store.pop(next(iter(store)))

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
            kept: list[TextLine] = []
        else:
            assert state is not None and regions is not None
            kept = [ln for ln in state.lines if not any(rg.intersection(self._local(ln.box, origin), r)
                                                        for r in regions)]
        try:
            self._stages, self._skipped = {}, 0
            fresh = self._read_all(image, origin, regions, known)
        except OcrUnavailable as e:
            log.warning("OCR unavailable: %s", e)
            return OcrResult(lines=(), error=str(e), elapsed_s=time.perf_counter() - start)
        lines = kept + fresh
        self._state = _State(image=image, origin=origin, lines=lines)
        self.last_image = shot.image
        elapsed = time.perf_counter() - start
        log.debug("ocr: %s, %d regions, %d new lines, %d reused, %.0f ms", "full" if full else "partial",
                  len(regions), len(fresh), len(kept), elapsed * 1000)
        return OcrResult(lines=tuple(lines), regions=tuple(self._screen(r, origin) for r in regions),
                         reused=len(kept), full=full, elapsed_s=elapsed, skipped=self._skipped,
                         stages_ms={k: round(v * 1000, 1) for k, v in self._stages.items()})

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
            skip = _Known(known, origin)
            reads = self._read_staged(todo, skip) if isinstance(self.engine, StagedOcrEngine) \
                else self._read_each(todo, skip)
            for job, lines in zip(todo, reads):
                job.lines = lines
                if job.band not in skip.cut:  # a crop read in part is not the crop's reading
                    self._remember(self._seen, job.key, lines, self.remember)
            self._skipped = skip.count
        dx, dy = origin
        return [TextLine(text=ln.text, confidence=ln.confidence,
                         box=Box(left=ln.box.left + j.band.left + dx, top=ln.box.top + j.band.top + dy,
                                 right=ln.box.right + j.band.left + dx, bottom=ln.box.bottom + j.band.top + dy))
                for j in jobs for ln in j.lines or ()]

    def _read_each(self, jobs: Sequence[_Job], skip: _Known) -> list[list[TextLine]]:
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
        return self._second_looks(jobs, lines, lambda canvases: [recognise(c) for c in canvases])

    def _read_staged(self, jobs: Sequence[_Job], skip: _Known) -> list[list[TextLine]]:
        """Detect in every crop, then recognise all their lines at once, spread evenly over the
        workers (one large crop no longer keeps one core busy while the other waits), then the
        second looks, also batched. A line whose ink was read before is not read again."""
        engine = self.engine
        assert isinstance(engine, StagedOcrEngine)
        with ThreadPoolExecutor(max(1, engine.workers), thread_name_prefix="ocr") as pool:
            t = time.perf_counter()
            detected = list(pool.map(lambda j: engine.detect(j.crop), jobs))
            # boxes shrunk to their ink once: they key the line memory and are the lines' boxes
            found = [skip.drop(j.band, [(rg.tighten(j.ink, box) if self.tighten else box, crop)
                                        for box, crop in dets], lambda d: d[0])
                     for j, dets in zip(jobs, detected)]
            self._stages["detect"] = time.perf_counter() - t
            t = time.perf_counter()
            keys = [_ink_key(j.ink, box, b"line") for j, dets in zip(jobs, found) for box, _ in dets]
            texts = iter(self._spread(pool, engine, [crop for dets in found for _, crop in dets], keys))
            lines = [engine.lines(dets, [next(texts) for _ in dets]) for dets in found]
            self._stages["recognise"] = time.perf_counter() - t
            t = time.perf_counter()

            def again(canvases: list[Image.Image]) -> list[tuple[str, float]]:
                arrays = [np.asarray(c) for c in canvases]
                return self._spread(pool, engine, arrays, [_ink_key(a, None, b"look") for a in arrays])
            looked = self._second_looks(jobs, lines, again)
            self._stages["second_look"] = time.perf_counter() - t
            return looked

    def _spread(self, pool: ThreadPoolExecutor, engine: StagedOcrEngine, crops: Sequence[np.ndarray],
                keys: Sequence[bytes]) -> list[tuple[str, float]]:
        """`engine.recognise_all` over the crops whose key was not read before (lines that
        scrolled, or sit next to a change, are the same ink again), in batches of similar width
        (`plan_batches`) shared out to the workers."""
        out: list[tuple[str, float] | None] = [self._lines_seen.get(k) for k in keys]
        todo = [i for i, t in enumerate(out) if t is None]
        min_ratio = getattr(engine, "rec_width", 96) / 48
        ratios = [max(min_ratio, crops[i].shape[1] / max(1, crops[i].shape[0])) for i in todo]
        shares = share_out(plan_batches(ratios), ratios, max(1, engine.workers))

        def run(share: list[list[int]]) -> list[tuple[int, tuple[str, float]]]:
            done: list[tuple[int, tuple[str, float]]] = []
            for batch in share:
                items = [todo[i] for i in batch]
                done += zip(items, engine.recognise_all([crops[i] for i in items]))
            return done
        for results in pool.map(run, shares):
            for i, t in results:
                out[i] = t
                self._remember(self._lines_seen, keys[i], t, 8 * self.remember)
        return [t or ("", 0.0) for t in out]

    def _tightened(self, job: _Job, lines: list[TextLine]) -> list[TextLine]:
        if not self.tighten:
            return lines
        return [TextLine(text=ln.text, confidence=ln.confidence, box=rg.tighten(job.ink, ln.box)) for ln in lines]

    def _second_looks(self, jobs: Sequence[_Job], lines: list[list[TextLine]],
                      recognise: Callable[[list[Image.Image]], list[tuple[str, float]]]) -> list[list[TextLine]]:
        """Re-read short, unsure labels alone, enlarged, on a plain margin of their background:
        the recogniser reads lone small symbols ("+", "=", "*") far better that way. All of them
        in one batch."""
        unsure = [(ji, li) for ji, job_lines in enumerate(lines) for li, ln in enumerate(job_lines)
                  if ln.confidence < SECOND_LOOK_BELOW and len(ln.text) <= 3
                  and ln.box.width >= 2 and ln.box.height >= 2]
        if not unsure:
            return lines
        backgrounds = {ji: _background(jobs[ji].crop) for ji, _ in unsure}
        canvases = [_canvas(jobs[ji].crop, lines[ji][li].box, backgrounds[ji]) for ji, li in unsure]
        out = [list(job_lines) for job_lines in lines]
        for (ji, li), (text, score) in zip(unsure, recognise(canvases)):
            line = out[ji][li]
            if text and score > line.confidence and not is_icon_noise(text):
                log.debug("second look: %r (%.2f) -> %r (%.2f)", line.text, line.confidence, text, score)
                out[ji][li] = TextLine(text=text, box=line.box, confidence=score)
        return out

    @staticmethod
    def _local(box: Box, origin: tuple[int, int]) -> Box:
        return Box(left=box.left - origin[0], top=box.top - origin[1],
                   right=box.right - origin[0], bottom=box.bottom - origin[1])

    @staticmethod
    def _screen(box: Box, origin: tuple[int, int]) -> Box:
        return Box(left=box.left + origin[0], top=box.top + origin[1],
                   right=box.right + origin[0], bottom=box.bottom + origin[1])
