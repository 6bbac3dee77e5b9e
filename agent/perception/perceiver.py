"""The Perceiver protocol and `ScreenPerceiver`, the real one: what the agent loop calls to see. Desktop in, `Observation` out.

    perceiver = ScreenPerceiver(desktop, ocr=RapidOcrEngine(), a11y=A11yReader(bus_address))
    obs = perceiver.observe()                      # screenshot, geometry, window, elements, hash
    obs = perceiver.observe(settled.screenshot)    # reuse the frame `settle` ended on

OCR goes through one `OcrReader`, so its region cache carries over from step to step; the
accessibility walk runs beside it on a thread (onnxruntime releases the GIL) and re-walks only
the subtrees under pixels that changed since the last observation. The walk streams the named
buttons, menus and labels it finds to OCR, which does not recognise lines inside them (it never
waits for the walk); OCR lines inside the named elements of the finished walk are not kept, and if
the walk failed after all, the lines OCR skipped for it are read after all. Element ids are stable across
steps: an element that is still there (same text and role, overlapping box) keeps its id; new
ones get fresh ids. Trouble in OCR or accessibility never raises: OCR trouble becomes a note on
the observation; an accessibility read that failed (bus error, timeout) means OCR only, and a note.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from actions.desktop.base import Desktop, Screenshot
from actions.models import Box
from agent.perception.a11y import A11yReader, A11yResult, merge_elements
from agent.perception.capture import fingerprint
from agent.perception.elements import Element
from agent.perception.observation import Observation
from agent.perception.ocr import OcrEngine, StagedOcrEngine, TextLine
from agent.perception.ocr_cache import OcrReader, OcrResult, lines_to_elements
from agent.perception.ocr_staged import Skip
from agent.perception.regions import changed_regions, expand, iou
from agent.perception.widgets import Recognise, framed_buttons

log = logging.getLogger(__name__)

# Roles whose accessible name is the text they show: OCR need not recognise lines inside them.
NAMED_ROLES = frozenset({"button", "toggle button", "menu", "menu item", "check menu item", "radio menu item",
                         "check box", "radio button", "page tab", "label"})


@dataclass(frozen=True)
class PerceptionReport:
    """How the last observation was made (for step timings and the recording)."""

    ocr: OcrResult | None = None
    a11y: A11yResult | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Perceiver(Protocol):
    """What the loop needs to see: `ScreenPerceiver` is the real one, `agent.perception.fake.FakePerceiver`
    the fake. `elements=False` asks for the screenshot, geometry and window only (no OCR/a11y)."""

    def observe(self, screenshot: Screenshot | None = None, elements: bool = True) -> Observation: ...


class ScreenPerceiver:
    """Builds Observations from a Desktop (see the module docstring)."""

    def __init__(self, desktop: Desktop, ocr: OcrEngine | None = None, a11y: A11yReader | None = None,
                 monitor: int | None = None) -> None:
        self.desktop = desktop
        self.reader = OcrReader(ocr) if ocr is not None else None
        self.a11y = a11y
        self.monitor = monitor
        self.last_report = PerceptionReport()
        self._previous: list[Element] = []
        self._next_id = 1
        self._last_frame: Screenshot | None = None  # the last frame perceived with elements

    def observe(self, screenshot: Screenshot | None = None, elements: bool = True) -> Observation:
        """Capture (unless given a screenshot) and perceive; `elements=False` skips OCR and a11y."""
        t0 = time.perf_counter()
        shot = screenshot or self.desktop.capture(self.monitor)
        screen, window = self.desktop.geometry(), self.desktop.active_window()
        timings = {"capture": (time.perf_counter() - t0) * 1000}
        found: list[Element] = []
        notes: list[str] = []
        ocr_result, a11y_result = None, None
        if elements:
            found, notes, ocr_result, a11y_result = self._elements(shot, timings)
        obs = Observation(screenshot=shot, screen=screen, window=window, elements=tuple(found),
                          notes=tuple(notes), frame_hash=fingerprint(shot.image))
        self.last_report = PerceptionReport(ocr=ocr_result, a11y=a11y_result, timings_ms=timings)
        log.info("observe: %d elements, %s", len(found), {k: round(v) for k, v in timings.items()})
        return obs

    def _elements(self, shot: Screenshot, timings: dict[str, float]
                  ) -> tuple[list[Element], list[str], OcrResult | None, A11yResult | None]:
        notes: list[str] = []
        a11y: list[A11yResult] = []
        t = time.perf_counter()
        last, changed = self._changed(shot)
        timings["diff"] = (time.perf_counter() - t) * 1000
        named: list[Box] = []  # streamed by the walk (list.append is atomic)
        most = shot.image.width * shot.image.height / 16
        walk = threading.Thread(target=lambda: a11y.append(self._read_a11y(
            changed, timings, lambda e: named.append(e.box) if _named(e, most) else None)),
            name="a11y", daemon=True) if self.a11y is not None else None
        if walk is not None:
            if self.reader is not None:  # the first import holds the GIL for a second: not during the walk
                t = time.perf_counter()
                self.reader.prepare()
                if (load := (time.perf_counter() - t) * 1000) > 1:
                    timings["ocr_load"] = load
            walk.start()
        ocr_result = None
        if self.reader is not None:
            t = time.perf_counter()
            # the frame diff is shared when the reader's last read was that same frame
            shared = changed if last is not None and self.reader.last_image is last.image else None
            ocr_result = self.reader.read(shot, changed=shared, known=(lambda: tuple(named)) if walk else None)
            timings["ocr"] = (time.perf_counter() - t) * 1000
        if walk is not None:
            walk.join()
        a11y_result = a11y[0] if a11y else None
        a11y_elements: list[Element] = []
        if a11y_result is not None:
            if a11y_result.failed:
                notes.append(f"{a11y_result.error}: elements from OCR only")
            a11y_elements = [e for e in a11y_result.elements if _inside(e.box, shot)]
        ocr_elements: list[Element] = []
        if self.reader is not None and ocr_result is not None:
            if ocr_result.skipped and (a11y_result is None or a11y_result.failed):
                # lines skipped for a walk that then failed: nothing names them now
                t = time.perf_counter()
                ocr_result = self.reader.read(shot, changed=ocr_result.skipped_boxes)
                timings["ocr_again"] = (time.perf_counter() - t) * 1000
            if ocr_result.error:
                notes.append(f"OCR unavailable: {ocr_result.error}")
            elif ocr_result.full and not ocr_result.regions:
                notes.append("the screen is blank (one flat colour): no text to read")
            named_now = [] if a11y_result is None or a11y_result.failed else \
                [e.box for e in a11y_result.elements if _named(e, most)]
            ocr_elements = lines_to_elements(_outside(ocr_result.lines, named_now))
            t = time.perf_counter()
            ocr_elements = framed_buttons(ocr_elements, shot, _recogniser(self.reader.engine))  # xcalc's keys
            timings["frames"] = (time.perf_counter() - t) * 1000
        if self.reader is None and self.a11y is None:
            notes.append("no element source configured (no OCR engine, no accessibility)")
        t = time.perf_counter()
        merged = self._stable_ids(merge_elements(a11y_elements, ocr_elements))
        timings["merge"] = (time.perf_counter() - t) * 1000
        return merged, notes, ocr_result, a11y_result

    def _changed(self, shot: Screenshot) -> tuple[Screenshot | None, list[Box] | None]:
        """The last frame perceived with elements, and the screen boxes that changed since (None:
        no comparable last frame)."""
        last, self._last_frame = self._last_frame, shot
        if last is None or last.image.size != shot.image.size or (last.left, last.top) != (shot.left, shot.top):
            return last, None
        return last, [_shift(b, shot) for b in changed_regions(last.image, shot.image)]

    def _read_a11y(self, changed: list[Box] | None, timings: dict[str, float],
                   found: Callable[[Element], None]) -> A11yResult:
        """The accessibility walk (on its own thread), reusing the last one outside `changed`;
        `found` gets each element as soon as it is known."""
        assert self.a11y is not None
        t = time.perf_counter()
        near = None if changed is None else [expand(b, 2) for b in changed]
        try:
            result = self.a11y.read(near, found)
        except Exception as e:  # a reader never raises; a broken one must not break the step
            log.debug("a11y read raised", exc_info=True)
            result = A11yResult((), error=f"accessibility unavailable: {type(e).__name__}", failed=True)
        timings["a11y"] = (time.perf_counter() - t) * 1000
        return result

    def _stable_ids(self, current: Sequence[Element]) -> list[Element]:
        """Keep the id of an element that was there last step; give new ones fresh ids."""
        before: dict[tuple[str, str], list[Element]] = {}
        for p in self._previous:
            before.setdefault((p.text, p.role), []).append(p)
        used: set[int] = set()
        out: list[Element | None] = []
        for e in current:
            old = next((p for p in before.get((e.text, e.role), ()) if p.id not in used and iou(p.box, e.box) >= 0.5),
                       None)
            if old is not None:
                used.add(old.id)
                out.append(e.model_copy(update={"id": old.id}))
            else:
                out.append(None)
        result = []
        for e, kept in zip(current, out):
            if kept is None:
                kept = e.model_copy(update={"id": self._next_id})
                self._next_id += 1
            else:
                self._next_id = max(self._next_id, kept.id + 1)
            result.append(kept)
        self._previous = result
        return sorted(result, key=lambda e: e.id)


def _recogniser(engine: OcrEngine) -> Recognise | None:
    """One crop -> (text, confidence) with a staged engine's recogniser; None for other engines."""
    if not isinstance(engine, StagedOcrEngine):
        return None
    return lambda image: engine.recognise_all([np.asarray(image)])[0]


def _named(element: Element, most: float) -> bool:
    """A named label or button (a small one, not a container: at most `most` px): its name is
    the text it shows."""
    return bool(element.text) and element.role in NAMED_ROLES and element.box.width * element.box.height <= most


def _outside(lines: Sequence[TextLine], boxes: Sequence[Box]) -> list[TextLine]:
    """The lines not inside one of `boxes` (>= 90% of their area), the test in plain ints."""
    skip = Skip(lambda: boxes, (0, 0))
    skip.refresh()
    return [ln for ln in lines if not skip.covered(_ORIGIN, ln.box)]


_ORIGIN = Box(left=0, top=0, right=0, bottom=0)


def _shift(box: Box, shot: Screenshot) -> Box:
    """Image pixels -> screen space."""
    return Box(left=box.left + shot.left, top=box.top + shot.top, right=box.right + shot.left,
               bottom=box.bottom + shot.top)


def _inside(box: Box, shot: Screenshot) -> bool:
    c = box.center
    return shot.left <= c.x < shot.left + shot.image.width and shot.top <= c.y < shot.top + shot.image.height
