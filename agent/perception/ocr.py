"""OCR engines behind one small Protocol: rapidocr (default), tesseract (paragraphs), a fake.

    engine = RapidOcrEngine()          # cheap: models load on the first read (~1.5 s)
    lines = engine.read(image)         # TextLine(text, box in image pixels, confidence)

Engines read whole images; `ocr_cache.OcrReader` decides which regions to read and maps boxes to
screen space. A crop passed to an engine carries its screen position in `image.info["origin"]`
(engines may ignore it; the fake uses it). An engine that cannot load raises `OcrUnavailable`
(a `UsageError` with the fix in its message), never something foreign.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from actions.errors import UsageError
from actions.models import Box
from agent.perception.find import Candidate, Match, find  # re-exported: `from ...ocr import find`

__all__ = ["Candidate", "FakeOcrEngine", "Match", "OcrEngine", "OcrUnavailable", "RapidOcrEngine",
           "StagedOcrEngine", "TextLine", "find", "is_icon_noise", "normalise_text"]

log = logging.getLogger(__name__)

# The default rapidocr models read Chinese and English; on UI text they sometimes answer with a
# CJK look-alike of an ASCII symbol.
# ... and it reads window-decoration icons (close, maximise) as box-shaped CJK characters.
_ICON_NOISE = frozenset("口回网里田目囗日□■▢▣◻◼ ")
_LOOKALIKES = str.maketrans({"米": "*", "十": "+", "一": "-", "二": "=", "‡": ":", "ー": "-", "—": "-", "–": "-"})


class OcrUnavailable(UsageError):
    """The OCR engine cannot run here (missing package, model or binary)."""


@dataclass(frozen=True)
class TextLine:
    """A line or label of text found in an image; `box` in that image's pixels."""

    text: str
    box: Box
    confidence: float


@runtime_checkable
class OcrEngine(Protocol):
    """Reads text lines from an image. Implementations load lazily and are reused."""

    name: str

    def read(self, image: Image.Image) -> list[TextLine]: ...


@runtime_checkable
class StagedOcrEngine(OcrEngine, Protocol):
    """An engine whose two stages can be called apart, so a reader can detect in several crops
    and then recognise all their lines together, spread evenly over `workers`. `load` builds
    its models now (else the first read does)."""

    workers: int

    def load(self) -> None: ...
    def detect(self, image: Image.Image) -> list[tuple[Box, np.ndarray]]: ...
    def recognise_all(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]: ...
    def lines(self, found: Sequence[tuple[Box, np.ndarray]],
              texts: Sequence[tuple[str, float]]) -> list[TextLine]: ...


def is_icon_noise(text: str) -> bool:
    """True for text made only of the box-shaped glyphs OCR reads window icons as."""
    return set(text) <= _ICON_NOISE


def normalise_text(text: str) -> str:
    """NFKC (full-width forms to ASCII), CJK look-alikes of ASCII symbols, trimmed."""
    return unicodedata.normalize("NFKC", text).translate(_LOOKALIKES).strip()


def _quad_box(quad: Any, dx: int = 0, dy: int = 0) -> Box:
    pts = np.asarray(quad, dtype=float).reshape(-1, 2)
    return Box(left=int(pts[:, 0].min()) + dx, top=int(pts[:, 1].min()) + dy,
               right=int(np.ceil(pts[:, 0].max())) + dx, bottom=int(np.ceil(pts[:, 1].max())) + dy)


class RapidOcrEngine:
    """rapidocr with the models shipped in its wheel (offline), angle classifier off.

    `rec_width` is the recogniser's minimum input width: rapidocr pads every line to 320 px, and
    the recogniser's cost follows the padded width. UI labels are short: 96 reads our fixture apps
    as well as 160 (one symbol fewer on galculator, which accessibility names) for 25% less time;
    64 starts losing "-" and "*" (bench/perception_grounding.py --rec-width, BENCHMARKS.md).
    `workers` engines (one onnxruntime thread each by default) let `OcrReader` read regions in
    parallel, which uses the cores better than one engine with several threads on small inputs.
    """

    name = "rapidocr"

    def __init__(self, text_score: float = 0.4, rec_width: int = 96, rec_batch: int = 12,
                 box_thresh: float = 0.3, workers: int = 0, threads: int = 0) -> None:
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.text_score = text_score
        self.rec_width = rec_width
        threads = threads or max(1, (os.cpu_count() or 1) // self.workers)
        self.params: dict[str, Any] = {
            "Global.log_level": "error", "Global.use_cls": False, "Global.text_score": text_score,
            # rapidocr pads an image wider than 8:1 to 1/4 of its width high before detection:
            # a 1920x128 band was detected as 1920x480, 5x the work (LibreOffice Calc: 12 s of 14)
            "Global.use_vertical_padding": False,
            "Global.max_side_len": 4096, "Det.limit_type": "max", "Det.limit_side_len": 4096,
            "Rec.rec_img_shape": [3, 48, rec_width], "Rec.rec_batch_num": rec_batch,
            "Det.box_thresh": box_thresh,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self._pool: queue.Queue[Any] | None = None
        self._error: str | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._pool is not None

    def load(self) -> None:
        """Import rapidocr and build the engines and their models now (else the first read does)."""
        with self._lock:
            if self._pool is not None:
                return
            if self._error is not None:
                raise OcrUnavailable(self._error)
            try:
                from rapidocr import RapidOCR

                logging.getLogger("RapidOCR").setLevel(logging.ERROR)
                pool: queue.Queue[Any] = queue.Queue()
                for _ in range(self.workers):
                    engine = RapidOCR(params=self.params)
                    for loader in ("_load_det_model", "_load_rec_model"):  # lazy in rapidocr >= 3.10
                        getattr(engine, loader, lambda: None)()
                    pool.put(engine)
                self._pool = pool
            except Exception as e:  # ImportError, onnxruntime errors, missing model files
                self._error = (f"rapidocr could not load: {type(e).__name__}: {e}".splitlines()[0]
                               + " (install it with `pip install rapidocr onnxruntime`)")
                raise OcrUnavailable(self._error) from e

    def read(self, image: Image.Image) -> list[TextLine]:
        """Detect, then recognise every detected line (`detect` + `recognise_all`)."""
        found = self.detect(image)
        return self.lines(found, self.recognise_all([crop for _, crop in found]))

    def detect(self, image: Image.Image) -> list[tuple[Box, np.ndarray]]:
        """Text boxes (image pixels) and their crops (RGB arrays), no recognition."""
        self.load()
        if image.width < 4 or image.height < 4:
            return []
        from rapidocr.utils.process_img import get_rotate_crop_image

        array = _pad32(np.asarray(image.convert("RGB")))
        with self._engine() as engine:
            # rapidocr keeps these flags between calls, so every call sets them all
            result = engine(array, use_det=True, use_cls=False, use_rec=False)
        quads = getattr(result, "boxes", None)
        if quads is None or len(quads) == 0:
            return []
        return [(_quad_box(q), get_rotate_crop_image(array, np.asarray(q, dtype=np.float32))) for q in quads]

    def recognise_all(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(text, score) for each image of one line of text, in one batched run of the recogniser."""
        if not crops:
            return []
        self.load()
        from rapidocr.ch_ppocr_rec.typings import TextRecInput

        with self._engine() as engine:
            result = engine.text_rec(TextRecInput(img=list(crops), return_word_box=False))
        return [(normalise_text(str(t)), float(s)) for t, s in zip(result.txts, result.scores)]

    def recognise(self, image: Image.Image) -> tuple[str, float]:
        """Recognition only (no detection) of an image holding one short line of text."""
        return self.recognise_all([np.asarray(image.convert("RGB"))])[0]

    def lines(self, found: Sequence[tuple[Box, np.ndarray]], texts: Sequence[tuple[str, float]]) -> list[TextLine]:
        """Detections and their readings -> TextLines, without empty, unsure or icon-noise text."""
        return [TextLine(text=text, box=box, confidence=score) for (box, _), (text, score) in zip(found, texts)
                if text and score >= self.text_score and not is_icon_noise(text)]

    @contextmanager
    def _engine(self) -> Iterator[Any]:
        assert self._pool is not None
        engine = self._pool.get()
        try:
            yield engine
        finally:
            self._pool.put(engine)


def _pad32(array: np.ndarray) -> np.ndarray:
    """Pad right/bottom to multiples of 32 with the edge colour: the detector resizes its input
    to such multiples, and a resized crop reads differently from the same pixels in the frame."""
    h, w = array.shape[:2]
    ph, pw = -h % 32, -w % 32
    return np.pad(array, ((0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else array


class FakeOcrEngine:
    """Reads from a script instead of pixels: `lines` are in screen space; a read returns those
    whose centre lies in the crop (placed by `image.info["origin"]`), clipped, in crop pixels.
    Records each read's screen box in `reads`. `fail` makes every read raise OcrUnavailable."""

    name = "fake"

    def __init__(self, lines: Sequence[TextLine] = (), fail: str | None = None) -> None:
        self.lines = list(lines)
        self.fail = fail
        self.reads: list[Box] = []

    def read(self, image: Image.Image) -> list[TextLine]:
        if self.fail:
            raise OcrUnavailable(self.fail)
        ox, oy = image.info.get("origin", (0, 0))
        area = Box(left=ox, top=oy, right=ox + image.width, bottom=oy + image.height)
        self.reads.append(area)
        found = []
        for line in self.lines:
            b = line.box
            if area.contains(b.center.x, b.center.y):  # clipped to the crop, as a real engine would see it
                local = Box(left=max(b.left, area.left) - ox, top=max(b.top, area.top) - oy,
                            right=min(b.right, area.right) - ox, bottom=min(b.bottom, area.bottom) - oy)
                found.append(TextLine(text=line.text, box=local, confidence=line.confidence))
        return found
