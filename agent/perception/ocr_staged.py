"""A staged OCR read of many crops on a few workers: detection, recognition and second looks
are one queue of tasks, so no core waits for a stage to end (recognition starts on the lines of
the crops detected so far while the last crops are being detected).

    lines = StagedRead(engine, crops, skip, memory).run()   # per crop: TextLines in crop pixels

Workers take, in this order: a crop to detect text in (largest first); a batch of detected lines
to recognise (lines of similar width together, `plan_batches`; the widest batch first, so the
short lines, often icons and glyphs that accessibility names, come last); a batch of second
looks. `Skip` is asked before every batch (never waited for): a line inside a box whose text is
known by then (accessibility streams the buttons it found) is dropped, not recognised; at the
end the lines inside the boxes known then are dropped too, so the result does not depend on how
early the boxes arrived. A line whose ink was read before is answered from `memory`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from actions.models import Box
from agent.perception import regions as rg
from agent.perception.ocr import StagedOcrEngine, TextLine, is_icon_noise

SECOND_LOOK_BELOW = 0.9  # confidence under which a short label is re-read on its own
RUN_COST = 1.7  # a recogniser run's own cost, in padded image heights (~80 px at 48 px high)
Reading = tuple[str, float]


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


def wants_second_look(line: TextLine) -> bool:
    """A short, unsure label: read again alone, enlarged (lone symbols read far better so)."""
    return line.confidence < SECOND_LOOK_BELOW and len(line.text) <= 3 and line.box.width >= 2 \
        and line.box.height >= 2


def better(line: TextLine, look: Reading) -> TextLine:
    """The line with the second look's reading when that is surer (and not icon noise)."""
    text, score = look
    if text and score > line.confidence and not is_icon_noise(text):
        return TextLine(text=text, box=line.box, confidence=score)
    return line


def background(crop: Image.Image) -> tuple[int, ...]:
    """The crop's commonest-looking colour (per-channel median of a sparse sample)."""
    pixels = np.asarray(crop.convert("RGB"))[::3, ::3].reshape(-1, 3)
    return tuple(int(v) for v in np.median(pixels, axis=0))


def canvas(crop: Image.Image, box: Box, bg: tuple[int, ...]) -> Image.Image:
    """The glyphs in `box` on a 4 px margin of `bg`, enlarged to ~36 px high."""
    glyph = crop.crop((box.left, box.top, box.right, box.bottom))
    out = Image.new("RGB", (box.width + 8, box.height + 8), bg)
    out.paste(glyph.convert("RGB"), (4, 4))
    factor = max(1, min(4, round(36 / out.height)))  # small glyphs read better enlarged
    if factor > 1:
        out = out.resize((out.width * factor, out.height * factor), Image.Resampling.LANCZOS)
    return out


def ink_key(pixels: np.ndarray, box: Box | None, kind: bytes) -> bytes:
    """A hash of the pixels in `box` (all of them when None): the same ink reads the same."""
    if box is not None:
        pixels = pixels[max(box.top, 0):box.bottom, max(box.left, 0):box.right]
    shape = b"x".join(b"%d" % n for n in pixels.shape)
    return hashlib.blake2b(np.ascontiguousarray(pixels).tobytes(), digest_size=16,
                           person=(kind + shape)[:16]).digest()


class Skip:
    """The boxes (screen space) whose text is known: `known()` is asked again at each `refresh`
    and must answer at once with what is known so far (each answer extending the last one).
    Counts the lines dropped, remembers the crops that lost some (`cut`) and where the dropped
    lines were (`boxes`, screen space)."""

    def __init__(self, known: Callable[[], Sequence[Box]] | None, origin: tuple[int, int]) -> None:
        self._known, self.origin = known, origin
        self._ltrb: list[tuple[int, int, int, int]] = []  # plain ints: lines x boxes tests
        self._lock = threading.Lock()
        self.cut: set[Box] = set()
        self.boxes: list[Box] = []

    @property
    def count(self) -> int:
        return len(self.boxes)

    def refresh(self) -> int:
        """Take in the boxes that became known since the last call; how many are known."""
        if self._known is None:
            return 0
        with self._lock:
            for b in list(self._known())[len(self._ltrb):]:
                self._ltrb.append((b.left, b.top, b.right, b.bottom))
            return len(self._ltrb)

    def covered(self, band: Box, box: Box, since: int = 0) -> bool:
        """True (and counted) when >= 90% of `box` (band pixels) lies in a known box (from
        the `since`-th on: the earlier ones were tried already)."""
        dx, dy = band.left + self.origin[0], band.top + self.origin[1]
        left, top, right, bottom = box.left + dx, box.top + dy, box.right + dx, box.bottom + dy
        area = (right - left) * (bottom - top)
        if area <= 0:
            return False
        for kl, kt, kr, kb in self._ltrb[since:]:
            w, h = min(right, kr) - max(left, kl), min(bottom, kb) - max(top, kt)
            if w > 0 and h > 0 and w * h >= 0.9 * area:
                self.cut.add(band)
                self.boxes.append(Box(left=left, top=top, right=right, bottom=bottom))
                return True
        return False

    def drop(self, band: Box, items: list[Any], box_of: Callable[[Any], Box]) -> list[Any]:
        self.refresh()
        return [it for it in items if not self.covered(band, box_of(it))]


@dataclass(frozen=True)
class Crop:
    """One crop to read: its box (image pixels), pixels and grey ink (the whole crop)."""

    band: Box
    image: Image.Image
    ink: np.ndarray


@dataclass
class _Line:
    crop: int
    box: Box  # crop pixels, shrunk to the ink
    pixels: np.ndarray  # the recogniser's input
    key: bytes
    read: bool = False
    line: TextLine | None = None  # once read (None: nothing worth keeping)
    look: np.ndarray | None = None  # the second look's canvas, while one is wanted
    look_key: bytes = b""
    dropped: bool = False
    checked: int = 0  # known boxes it was tried against


@dataclass
class Memory:
    """Readings of ink seen before: `recall(key)` or None, `keep(key, reading)`."""

    recall: Callable[[bytes], Reading | None]
    keep: Callable[[bytes, Reading], None]


@dataclass
class _Queue:
    detect: list[int]
    recognise: list[_Line] = field(default_factory=list)
    look: list[_Line] = field(default_factory=list)
    running: int = 0


class StagedRead:
    """One staged read of `crops` (see the module docstring); `stages` gets the wall time until
    the last detection ended, then until the last recognition, then until the end."""

    def __init__(self, engine: StagedOcrEngine, crops: Sequence[Crop], skip: Skip, memory: Memory,
                 tighten: bool = True) -> None:
        self.engine, self.crops, self.skip, self.memory, self.tighten = engine, crops, skip, memory, tighten
        self.min_ratio = getattr(engine, "rec_width", 96) / 48
        self.lines: list[_Line] = []
        self.stages: dict[str, float] = {}
        self._queue = _Queue(detect=list(range(len(crops))))
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._backgrounds: dict[int, tuple[int, ...]] = {}
        self._ends = {"detect": 0.0, "recognise": 0.0}

    def run(self) -> list[list[TextLine]]:
        start = time.perf_counter()
        workers = [threading.Thread(target=self._work, name=f"ocr-{i}", daemon=True)
                   for i in range(max(1, self.engine.workers))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        if self._error is not None:
            raise self._error
        end = time.perf_counter()
        detect = max(self._ends["detect"], start)
        recognise = max(self._ends["recognise"], detect)
        self.stages.update(detect=detect - start, recognise=recognise - detect, second_look=end - recognise)
        return self._result()

    def _result(self) -> list[list[TextLine]]:
        out: list[list[TextLine]] = [[] for _ in self.crops]
        known = self.skip.refresh()
        for ln in self.lines:
            if not ln.dropped and ln.line is not None and not self._covered(ln, known):
                out[ln.crop].append(ln.line)
        return out

    def _covered(self, ln: _Line, known: int) -> bool:
        """Inside one of the first `known` known boxes (tried once against each box)."""
        since, ln.checked = ln.checked, max(ln.checked, known)
        return since < known and self.skip.covered(self.crops[ln.crop].band, ln.box, since)

    def _work(self) -> None:
        while True:
            with self._cond:
                task = self._take()
                while task is None and self._error is None and (self._queue.running or self._pending()):
                    self._cond.wait()
                    task = self._take()
                if task is None:
                    self._cond.notify_all()
                    return
                self._queue.running += 1
            try:
                task()
            except BaseException as e:  # OcrUnavailable and the like: the read fails as a whole
                with self._cond:
                    self._error = self._error or e
            finally:
                with self._cond:
                    self._queue.running -= 1
                    self._cond.notify_all()

    def _pending(self) -> bool:
        q = self._queue
        return bool(q.detect or q.recognise or q.look)

    def _take(self) -> Callable[[], None] | None:
        """The next task (called under the lock)."""
        if self._error is not None:
            return None
        q = self._queue
        if q.detect:
            i = q.detect.pop(0)
            return lambda: self._detect(i)
        known = self.skip.refresh()
        for name, pending in (("recognise", q.recognise), ("look", q.look)):
            for ln in pending:
                ln.dropped = self._covered(ln, known)
            pending[:] = [ln for ln in pending if not ln.dropped]
            if pending:
                batch = self._widest_batch(pending, look=name == "look")
                return (lambda: self._recognise(batch)) if name == "recognise" else (lambda: self._look(batch))
        return None

    def _widest_batch(self, pending: list[_Line], look: bool) -> list[_Line]:
        arrays = [ln.look if look and ln.look is not None else ln.pixels for ln in pending]
        ratios = [max(self.min_ratio, a.shape[1] / max(1, a.shape[0])) for a in arrays]
        batch = max(plan_batches(ratios), key=lambda b: ratios[b[-1]])
        chosen = {id(pending[i]) for i in batch}
        taken = [pending[i] for i in batch]
        pending[:] = [ln for ln in pending if id(ln) not in chosen]
        return taken

    def _detect(self, i: int) -> None:
        crop = self.crops[i]
        found = self.engine.detect(crop.image)
        # boxes shrunk to their ink once: they key the line memory and are the lines' boxes
        lines = [_Line(i, rg.tighten(crop.ink, box) if self.tighten else box, pixels, b"")
                 for box, pixels in found]
        known = self.skip.refresh()
        lines = [ln for ln in lines if not self._covered(ln, known)]
        ready = []
        for ln in lines:
            ln.key = ink_key(crop.ink, ln.box, b"line")
            reading = self.memory.recall(ln.key)
            if reading is not None:
                self._recognised(ln, reading)
            ready.append(ln)
        with self._cond:
            self.lines += ready
            self._queue.recognise += [ln for ln in ready if not ln.read]
            self._queue.look += [ln for ln in ready if ln.look is not None]
            self._ends["detect"] = time.perf_counter()

    def _recognise(self, batch: list[_Line]) -> None:
        readings = self.engine.recognise_all([ln.pixels for ln in batch])
        for ln, reading in zip(batch, readings):
            self.memory.keep(ln.key, reading)
            self._recognised(ln, reading)
        with self._cond:
            self._queue.look += [ln for ln in batch if ln.look is not None]
            self._ends["recognise"] = time.perf_counter()

    def _recognised(self, ln: _Line, reading: Reading) -> None:
        """Keep the line if it reads as something; prepare its second look if it wants one."""
        ln.read = True
        kept = self.engine.lines([(ln.box, ln.pixels)], [reading])
        ln.line = kept[0] if kept else None
        if ln.line is None or not wants_second_look(ln.line):
            return
        image = self.crops[ln.crop].image
        bg = self._backgrounds.get(ln.crop) or self._backgrounds.setdefault(ln.crop, background(image))
        look = np.asarray(canvas(image, ln.line.box, bg))
        ln.look_key = ink_key(look, None, b"look")
        seen = self.memory.recall(ln.look_key)
        if seen is not None:
            ln.line = better(ln.line, seen)
        else:
            ln.look = look

    def _look(self, batch: list[_Line]) -> None:
        arrays = [ln.look for ln in batch if ln.look is not None]
        readings = self.engine.recognise_all(arrays)
        for ln, reading in zip(batch, readings):
            self.memory.keep(ln.look_key, reading)
            assert ln.line is not None
            ln.line = better(ln.line, reading)
            ln.look = None
