"""The Perceiver protocol and `ScreenPerceiver`, the real one: what the agent loop calls to see. Desktop in, `Observation` out.

    perceiver = ScreenPerceiver(desktop, ocr=RapidOcrEngine(), a11y=A11yReader(bus_address))
    obs = perceiver.observe()                      # screenshot, geometry, window, elements, hash
    obs = perceiver.observe(settled.screenshot)    # reuse the frame `settle` ended on

OCR goes through one `OcrReader`, so its region cache carries over from step to step; the
accessibility walk runs beside it on a thread (onnxruntime releases the GIL) and re-walks only
the subtrees under pixels that changed since the last observation. Element ids are stable across
steps: an element that is still there (same text and role, overlapping box) keeps its id; new
ones get fresh ids. Trouble in OCR or accessibility never raises: OCR trouble becomes a note on
the observation; an accessibility read that failed (bus error, timeout) means OCR only, and a note.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from actions.desktop.base import Desktop, Screenshot
from actions.models import Box
from agent.perception.a11y import A11yReader, A11yResult, merge_elements
from agent.perception.capture import fingerprint
from agent.perception.elements import Element
from agent.perception.observation import Observation
from agent.perception.ocr import OcrEngine
from agent.perception.ocr_cache import OcrReader, OcrResult, lines_to_elements
from agent.perception.regions import changed_regions, expand, iou

log = logging.getLogger(__name__)

# Roles whose accessible name is the text they show: OCR need not recognise lines inside them.
NAMED_ROLES = frozenset({"button", "toggle button", "menu", "menu item", "check menu item", "radio menu item",
                         "check box", "radio button", "page tab", "label"})
A11Y_WAIT_S = 1.0  # OCR waits at most this long (from the observation's start) for those names


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
        walk = threading.Thread(target=lambda: a11y.append(self._read_a11y(changed, timings)), name="a11y",
                                daemon=True) if self.a11y is not None else None
        if walk is not None:
            walk.start()
        ocr_elements: list[Element] = []
        ocr_result = None
        if self.reader is not None:
            t = time.perf_counter()
            deadline = t + A11Y_WAIT_S

            def named() -> list[Box]:
                if walk is None:
                    return []
                walk.join(max(0.0, deadline - time.perf_counter()))
                return _named_boxes(a11y[0], shot) if a11y else []
            # the frame diff is shared when the reader's last read was that same frame
            shared = changed if last is not None and self.reader.last_image is last.image else None
            ocr_result = self.reader.read(shot, changed=shared, known=named)
            timings["ocr"] = (time.perf_counter() - t) * 1000
            if ocr_result.error:
                notes.append(f"OCR unavailable: {ocr_result.error}")
            elif ocr_result.full and not ocr_result.regions:
                notes.append("the screen is blank (one flat colour): no text to read")
            ocr_elements = lines_to_elements(ocr_result.lines)
        a11y_elements: list[Element] = []
        if walk is not None:
            walk.join()
        a11y_result = a11y[0] if a11y else None
        if a11y_result is not None:
            if a11y_result.failed:
                notes.append(f"{a11y_result.error}: elements from OCR only")
            a11y_elements = [e for e in a11y_result.elements if _inside(e.box, shot)]
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

    def _read_a11y(self, changed: list[Box] | None, timings: dict[str, float]) -> A11yResult:
        """The accessibility walk (on its own thread), reusing the last one outside `changed`."""
        assert self.a11y is not None
        t = time.perf_counter()
        near = None if changed is None else [expand(b, 2) for b in changed]
        try:
            result = self.a11y.read(near)
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


def _named_boxes(result: A11yResult, shot: Screenshot) -> list[Box]:
    """Boxes of the named labels and buttons accessibility found (small ones: not containers)."""
    most = shot.image.width * shot.image.height / 16
    return [e.box for e in result.elements if e.text and e.role in NAMED_ROLES and e.box.width * e.box.height <= most]


def _shift(box: Box, shot: Screenshot) -> Box:
    """Image pixels -> screen space."""
    return Box(left=box.left + shot.left, top=box.top + shot.top, right=box.right + shot.left,
               bottom=box.bottom + shot.top)


def _inside(box: Box, shot: Screenshot) -> bool:
    c = box.center
    return shot.left <= c.x < shot.left + shot.image.width and shot.top <= c.y < shot.top + shot.image.height
