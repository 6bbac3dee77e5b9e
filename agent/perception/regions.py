"""Pixel regions: what changed between two frames, where a frame has content, box arithmetic.

All boxes are `actions.models.Box` in the pixel space of the images given (screen space when the
images are full-resolution captures at the screen origin). Tiles are compared with numpy on the
full-resolution pixels, so a one-pixel change marks its tile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image, ImageChops

from actions.models import Box

TILE = 32


def as_array(image: Image.Image) -> np.ndarray:
    """A (H, W, C) uint8 view of an RGB / L image."""
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    array = np.asarray(image)
    return array if array.ndim == 3 else array[:, :, None]


def _tile_reduce(mask: np.ndarray, tile: int, ufunc: np.ufunc) -> np.ndarray:
    rows = ufunc.reduceat(mask, np.arange(0, mask.shape[0], tile), axis=0)
    return ufunc.reduceat(rows, np.arange(0, mask.shape[1], tile), axis=1)


def content_tiles(image: Image.Image, tile: int = TILE) -> np.ndarray:
    """A (rows, cols) bool grid: True where the tile is not one flat colour."""
    gray = np.asarray(image.convert("L"))
    high = _tile_reduce(gray, tile, np.maximum)
    low = _tile_reduce(gray, tile, np.minimum)
    return np.asarray(high != low)


def tile_boxes(grid: np.ndarray, tile: int, size: tuple[int, int]) -> list[Box]:
    """Bounding boxes (pixels) of the 8-connected groups of True tiles."""
    seen = np.zeros_like(grid, dtype=bool)
    boxes: list[Box] = []
    rows, cols = grid.shape
    for r0, c0 in zip(*np.nonzero(grid)):
        if seen[r0, c0]:
            continue
        stack = [(int(r0), int(c0))]
        seen[r0, c0] = True
        top, left, bottom, right = r0, c0, r0, c0
        while stack:
            r, c = stack.pop()
            top, left, bottom, right = min(top, r), min(left, c), max(bottom, r), max(right, c)
            for rr in range(max(r - 1, 0), min(r + 2, rows)):
                for cc in range(max(c - 1, 0), min(c + 2, cols)):
                    if grid[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        stack.append((rr, cc))
        boxes.append(Box(left=int(left) * tile, top=int(top) * tile,
                         right=min((int(right) + 1) * tile, size[0]), bottom=min((int(bottom) + 1) * tile, size[1])))
    return boxes


def changed_regions(before: Image.Image, after: Image.Image, tile: int = TILE) -> list[Box]:
    """Tight boxes around the changed pixels: changed tiles are grouped (8-connected), then each
    group's box is shrunk to the exact bounding box of the changed pixels in it."""
    a, b = as_array(before), as_array(after)
    if a.shape != b.shape:
        return [Box(left=0, top=0, right=after.width, bottom=after.height)]
    mask = (a != b).any(axis=2)
    boxes = []
    for group in tile_boxes(_tile_reduce(mask, tile, np.logical_or), tile, after.size):
        sub = mask[group.top:group.bottom, group.left:group.right]
        rows, cols = np.flatnonzero(sub.any(axis=1)), np.flatnonzero(sub.any(axis=0))
        boxes.append(Box(left=group.left + int(cols[0]), top=group.top + int(rows[0]),
                         right=group.left + int(cols[-1]) + 1, bottom=group.top + int(rows[-1]) + 1))
    return boxes


def content_regions(image: Image.Image, tile: int = TILE) -> list[Box]:
    """Boxes covering every non-flat part of a frame (flat background is skipped by OCR)."""
    return tile_boxes(content_tiles(image, tile), tile, image.size)


def diff_bbox(before: Image.Image, after: Image.Image) -> Box | None:
    """The exact bounding box of all changed pixels, or None when the frames are equal."""
    if before.size != after.size or before.mode != after.mode:
        return Box(left=0, top=0, right=after.width, bottom=after.height)
    bbox = ImageChops.difference(before, after).getbbox()
    return Box(left=bbox[0], top=bbox[1], right=bbox[2], bottom=bbox[3]) if bbox else None


# --------------------------------------------------------------------------- box arithmetic


def area(box: Box) -> int:
    return max(box.width, 0) * max(box.height, 0)


def intersection(a: Box, b: Box) -> int:
    w = min(a.right, b.right) - max(a.left, b.left)
    h = min(a.bottom, b.bottom) - max(a.top, b.top)
    return w * h if w > 0 and h > 0 else 0


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    union = area(a) + area(b) - inter
    return inter / union if union else 0.0


def overlap_small(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area (1.0 when one contains the other)."""
    smaller = min(area(a), area(b))
    return intersection(a, b) / smaller if smaller else 0.0


def inside(inner: Box, outer: Box, share: float = 0.9) -> bool:
    """True when at least `share` of `inner`'s area lies in `outer`."""
    return intersection(inner, outer) >= share * area(inner) > 0


def union_box(boxes: Iterable[Box]) -> Box:
    items = list(boxes)
    return Box(left=min(b.left for b in items), top=min(b.top for b in items),
               right=max(b.right for b in items), bottom=max(b.bottom for b in items))


def expand(box: Box, margin: int, size: tuple[int, int] | None = None) -> Box:
    right, bottom = (box.right + margin, box.bottom + margin)
    if size:
        right, bottom = min(right, size[0]), min(bottom, size[1])
    return Box(left=max(box.left - margin, 0), top=max(box.top - margin, 0), right=right, bottom=bottom)


def near(a: Box, b: Box, gap: int) -> bool:
    return (a.left - gap < b.right and b.left - gap < a.right
            and a.top - gap < b.bottom and b.top - gap < a.bottom)


def merge_boxes(boxes: Sequence[Box], gap: int = 0) -> list[Box]:
    """Merge boxes that overlap or lie within `gap` pixels of each other, until none do."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        out: list[Box] = []
        for box in merged:
            for i, other in enumerate(out):
                if near(box, other, gap):
                    out[i] = union_box((box, other))
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return sorted(merged, key=lambda b: (b.top, b.left))


def tighten(gray: np.ndarray, box: Box, threshold: int = 48) -> Box:
    """Shrink a text box (OCR detectors pad theirs) to the ink inside it.

    `gray` is the whole image as a 2-D uint8 array. The background is the box's median (text is
    the minority of its pixels). Widget borders the padded box reached are cut off first: from
    each edge, lines (ink across >= 85% of the box) and the blank gaps before them, so a label
    clipped by its own border (xcalc's "CE/C") or a box over a neighbour's border ends at the
    text. Returns `box` when no ink is found.
    """
    crop = gray[max(box.top, 0):box.bottom, max(box.left, 0):box.right]
    if crop.size == 0 or min(crop.shape) < 3:
        return box
    ink = np.abs(crop.astype(np.int16) - int(np.median(crop))) > threshold
    top, bottom = _borders(ink.mean(axis=1))
    left, right = _borders(ink[top:bottom].mean(axis=0))
    rows = np.flatnonzero(ink[top:bottom, left:right].any(axis=1))
    cols = np.flatnonzero(ink[top:bottom, left:right].any(axis=0))
    if not len(rows) or not len(cols):
        return box
    x0, y0 = max(box.left, 0) + left, max(box.top, 0) + top
    return Box(left=x0 + int(cols[0]), top=y0 + int(rows[0]),
               right=x0 + int(cols[-1]) + 1, bottom=y0 + int(rows[-1]) + 1)


def _borders(fractions: np.ndarray, line: float = 0.85) -> tuple[int, int]:
    """(start, end) of `fractions` (ink per row or column) without the border lines at either
    edge and the blank rows/columns before them; at least 2 are kept."""
    def cut(values: np.ndarray) -> int:
        n = 0
        for i, f in enumerate(values):
            if f >= line:
                n = i + 1
            elif f > 0:
                break
        return n
    start, end = cut(fractions), len(fractions) - cut(fractions[::-1])
    return (start, end) if end - start >= 2 else (0, len(fractions))


def split_tall(gray: np.ndarray, box: Box, max_height: int = 160, threshold: int = 48) -> list[Box]:
    """Split a tall region into bands at rows with (almost) no ink, so that regions can be read in
    parallel without cutting a text line. `gray` is the whole image as a 2-D uint8 array."""
    if box.height <= max_height:
        return [box]
    crop = gray[box.top:box.bottom, box.left:box.right].astype(np.int16)
    # Ink per row, against the row's own median: computed once, every split is of whole rows.
    ink = (np.abs(crop - np.median(crop, axis=1, keepdims=True)) > threshold).sum(axis=1)
    return [Box(left=box.left, top=box.top + a, right=box.right, bottom=box.top + b)
            for a, b in _split_rows(ink, 0, box.height, max_height, max(4, 0.03 * box.width))]


def _split_rows(ink: np.ndarray, a: int, b: int, max_height: int, most: float) -> list[tuple[int, int]]:
    """Rows a..b cut at the emptiest row of their middle third, recursively, into runs of at most
    `max_height` rows; a run whose every candidate row has more than `most` ink stays whole."""
    height = b - a
    if height <= max_height:
        return [(a, b)]
    lo, hi = a + height // 3, a + 2 * height // 3
    row = lo + int(np.argmin(ink[lo:hi]))
    if ink[row] > most:  # every candidate row crosses text: keep whole
        return [(a, b)]
    return _split_rows(ink, a, row, max_height, most) + _split_rows(ink, row, b, max_height, most)


def split_wide(gray: np.ndarray, box: Box, gap: int = 96, margin: int = 6, threshold: int = 48) -> list[Box]:
    """Cut a band into the stretches of columns that hold ink, so that detection skips empty
    stretches and a sheet's empty grid: thin rule lines (<= 2 px, inked across >= 85% of the band:
    grid lines) are not ink. Stretches closer than `gap` stay together; each keeps `margin` px of
    context and the band's height. A band of nothing but rules gives []."""
    crop = gray[box.top:box.bottom, box.left:box.right].astype(np.int16)
    if crop.size == 0 or min(crop.shape) < 3:
        return [box]
    ink = np.abs(crop - int(np.median(crop))) > threshold
    ink[_thin_runs(ink.mean(axis=1) >= 0.85), :] = False
    ink[:, _thin_runs(ink.mean(axis=0) >= 0.85)] = False
    cols = np.flatnonzero(ink.any(axis=0))
    if not len(cols):
        return []
    breaks = np.flatnonzero(np.diff(cols) > gap)
    starts, ends = np.r_[cols[0], cols[breaks + 1]], np.r_[cols[breaks], cols[-1]]
    width = crop.shape[1]
    return [Box(left=box.left + max(int(s) - margin, 0), top=box.top,
                right=box.left + min(int(e) + 1 + margin, width), bottom=box.bottom) for s, e in zip(starts, ends)]


def _thin_runs(full: np.ndarray, most: int = 2) -> np.ndarray:
    """The runs of True in `full` no longer than `most` (rule lines, not filled blocks)."""
    edges = np.diff(np.r_[0, full.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = np.zeros(len(full), dtype=bool)
    for s, e in zip(starts, ends):
        if e - s <= most:
            out[s:e] = True
    return out
