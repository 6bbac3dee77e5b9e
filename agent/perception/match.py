"""Find a recorded crop on the screen by normalised cross-correlation (OpenCV `matchTemplate`).

    peaks = locate(screen, crop, expected=(x, y))   # best first, each a Peak(left, top, score, where)

Fast path first: the score at the expected place; then a window around it; only then the whole
screen, downscaled for a coarse pass and refined at full resolution around the best coarse peaks.
Scores are TM_CCOEFF_NORMED on grey levels: 1.0 is a pixel-exact match, brightness and contrast
changes do not matter, and a crop without any structure (see `is_uniform`) matches anywhere, so
the caller must treat it as ambiguous. `locate` returns the peaks that do not overlap each other,
so a caller sees at once whether the best match has a rival (duplicates, repeated widgets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

Gray = NDArray[np.uint8]
Where = Literal["same", "near", "screen"]

NEAR_RADIUS = 200        # px around the expected place searched before the whole screen
UNIFORM_STD = 4.0        # grey-level standard deviation under which a crop has no structure
_COARSE_MIN_SIDE = 24    # downscale the whole-screen pass only if the crop stays >= 12 px (~20 ms vs ~100 ms at 1080p)
_PEAKS = 4


@dataclass(frozen=True)
class Peak:
    """A place where the crop matches: its top-left corner in image coordinates, and the score."""

    left: int
    top: int
    score: float
    where: Where
    mad: float = 0.0  # mean absolute grey-level difference there (0 = exact)
    off: float = 0.0  # share of pixels more than 48 grey levels off: a different glyph shows here


def gray(image: Image.Image) -> Gray:
    return np.asarray(image.convert("L"), dtype=np.uint8)


def is_uniform(crop: Gray, tolerance: float = UNIFORM_STD) -> bool:
    """A blank area (one flat colour, or nearly): it would match any blank place on the screen."""
    return crop.size == 0 or float(crop.std()) < tolerance


def score_at(screen: Gray, crop: Gray, left: int, top: int) -> float:
    """The correlation of `crop` with the screen at exactly (left, top); -1 if it does not fit there."""
    h, w = crop.shape
    if left < 0 or top < 0 or left + w > screen.shape[1] or top + h > screen.shape[0]:
        return -1.0
    patch = screen[top:top + h, left:left + w]
    result = cv2.matchTemplate(patch, crop, cv2.TM_CCOEFF_NORMED)
    return _clean(float(result[0, 0]))


def _clean(score: float) -> float:
    return score if np.isfinite(score) else 0.0


def _peaks(screen: Gray, crop: Gray, box: tuple[int, int, int, int], where: Where, count: int = _PEAKS,
           floor: float = 0.3) -> list[Peak]:
    """The best non-overlapping matches of `crop` inside `box` (left, top, right, bottom)."""
    h, w = crop.shape
    left, top = max(box[0], 0), max(box[1], 0)
    right, bottom = min(box[2], screen.shape[1]), min(box[3], screen.shape[0])
    if right - left < w or bottom - top < h:
        return []
    result = cv2.matchTemplate(screen[top:bottom, left:right], crop, cv2.TM_CCOEFF_NORMED)
    np.nan_to_num(result, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    peaks: list[Peak] = []
    for _ in range(count):
        _, score, _, (x, y) = cv2.minMaxLoc(result)
        if score < floor:
            break
        peaks.append(Peak(left + x, top + y, float(score), where))
        # suppress everything that would overlap this match by more than half the crop
        result[max(y - h // 2, 0):y + h // 2 + 1, max(x - w // 2, 0):x + w // 2 + 1] = -1.0
    return peaks


def _whole_screen(screen: Gray, crop: Gray) -> list[Peak]:
    h, w = crop.shape
    factor = 2 if min(h, w) >= _COARSE_MIN_SIDE else 1
    if factor == 1:
        return _peaks(screen, crop, (0, 0, screen.shape[1], screen.shape[0]), "screen")
    small: Gray = np.asarray(cv2.resize(screen, (screen.shape[1] // factor, screen.shape[0] // factor),
                                        interpolation=cv2.INTER_AREA), dtype=np.uint8)
    small_crop: Gray = np.asarray(cv2.resize(crop, (w // factor, h // factor), interpolation=cv2.INTER_AREA),
                                  dtype=np.uint8)
    coarse = _peaks(small, small_crop, (0, 0, small.shape[1], small.shape[0]), "screen", count=_PEAKS * 3,
                    floor=0.4)
    refined: list[Peak] = []
    pad = factor + 2
    for p in coarse:
        x, y = p.left * factor, p.top * factor
        refined += _peaks(screen, crop, (x - pad, y - pad, x + w + pad, y + h + pad), "screen", count=1)
    return _distinct(refined, w, h)


def _distinct(peaks: list[Peak], w: int, h: int) -> list[Peak]:
    """Best first, dropping peaks that overlap a better one by more than half the crop."""
    out: list[Peak] = []
    for p in sorted(peaks, key=lambda p: -p.score):
        if all(abs(p.left - q.left) > w // 2 or abs(p.top - q.top) > h // 2 for q in out):
            out.append(p)
    return out


def locate(screen: Gray, crop: Gray, expected: tuple[int, int], *, accept: float = 0.9,
           radius: int = NEAR_RADIUS) -> list[Peak]:
    """Where `crop` is on `screen`, best first. `expected` is where it was (image coordinates).

    Stops early: a match of at least `accept` at the expected place is returned alone; else the
    window of `radius` px around it is searched, and the whole screen only if nothing there
    reaches `accept` or the best one has a rival (so a duplicate elsewhere is still seen)."""
    h, w = crop.shape
    x, y = expected
    same = score_at(screen, crop, x, y)
    if same >= accept:
        return [_with_mad(screen, crop, Peak(x, y, same, "same"))]
    near = _peaks(screen, crop, (x - radius, y - radius, x + w + radius, y + h + radius), "near")
    if not (near and near[0].score >= accept and (len(near) < 2 or near[1].score < accept)):
        near = _distinct(near + _whole_screen(screen, crop), w, h)
    return [_with_mad(screen, crop, p) for p in near]


def _with_mad(screen: Gray, crop: Gray, p: Peak) -> Peak:
    h, w = crop.shape
    patch = screen[p.top:p.top + h, p.left:p.left + w].astype(np.int16)
    diff = np.abs(patch - crop.astype(np.int16))
    return Peak(p.left, p.top, p.score, p.where, round(float(diff.mean()), 2), round(float((diff > 48).mean()), 4))
