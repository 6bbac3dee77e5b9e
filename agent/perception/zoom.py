"""Zoom: a full-resolution crop of the screen for a closer look, optionally upscaled.

    view = zoom(screenshot, Box(...), factor=2)      # or zoom_desktop(desktop, box)
    view.image                                         # what to show a model / a verifier
    view.to_screen(x, y)                               # a point on view.image -> screen space

The crop is clamped to the captured area; `margin` adds context around the box.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from actions.desktop.base import Desktop, Screenshot
from actions.errors import UsageError
from actions.models import Box, Point


@dataclass(frozen=True)
class ZoomView:
    """A crop of `region` (screen space) scaled by `factor` into `image`."""

    image: Image.Image
    region: Box
    factor: float

    def to_screen(self, x: float, y: float) -> Point:
        """A pixel of `image` -> the screen pixel it shows."""
        return Point(x=self.region.left + int(x / self.factor), y=self.region.top + int(y / self.factor))

    def to_image(self, x: int, y: int) -> tuple[float, float]:
        """A screen pixel -> the centre of its (scaled) pixel block in `image`."""
        return (x - self.region.left + 0.5) * self.factor, (y - self.region.top + 0.5) * self.factor


def zoom(shot: Screenshot, box: Box, factor: float = 2.0, margin: int = 0,
         max_side: int = 2048) -> ZoomView:
    """Crop `box` (screen space, plus `margin`) from a full-resolution screenshot and scale it by
    `factor` (capped so the longer side stays <= `max_side`). Upscaling uses LANCZOS."""
    if factor <= 0:
        raise UsageError(f"zoom factor must be > 0, got {factor}")
    area = Box(left=shot.left, top=shot.top, right=shot.left + shot.image.width,
               bottom=shot.top + shot.image.height)
    region = Box(left=max(box.left - margin, area.left), top=max(box.top - margin, area.top),
                 right=min(box.right + margin, area.right), bottom=min(box.bottom + margin, area.bottom))
    if region.width <= 0 or region.height <= 0:
        raise UsageError(f"zoom box {box.left},{box.top},{box.right},{box.bottom} is outside the "
                         f"captured area {area.left},{area.top},{area.right},{area.bottom}")
    crop = shot.image.crop((region.left - shot.left, region.top - shot.top,
                            region.right - shot.left, region.bottom - shot.top))
    factor = min(factor, max_side / max(crop.size))
    if factor != 1.0:
        size = (max(1, round(crop.width * factor)), max(1, round(crop.height * factor)))
        crop = crop.resize(size, Image.Resampling.LANCZOS if factor > 1 else Image.Resampling.BOX)
        factor = crop.width / region.width
    return ZoomView(image=crop, region=region, factor=factor)


def zoom_desktop(desktop: Desktop, box: Box, factor: float = 2.0, margin: int = 0,
                 monitor: int | None = None) -> ZoomView:
    """Capture now and zoom (see `zoom`)."""
    return zoom(desktop.capture(monitor), box, factor, margin)
