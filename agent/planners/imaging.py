"""What the model sees: the observation scaled to the profile's size, encoded once per step.

The ImageSpace of each encoded image is kept with it, so every coordinate a model gives back is
converted with the functions of `agent.perception.scaling` against the image it actually saw.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from PIL import Image

from actions.models import Box
from agent.perception import marks
from agent.perception.capture import encode_image
from agent.perception.elements import Element
from agent.perception.observation import Observation
from agent.perception.scaling import ImageSpace, fit_max_pixels, fit_xga, resize, smart_resize
from agent.planners.profiles import ModelProfile


@dataclass(frozen=True)
class EncodedImage:
    """An image as sent to a model (base64) and the screen region it shows."""

    b64: str
    media_type: str
    space: ImageSpace

    @property
    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.b64}"

    @property
    def size(self) -> tuple[int, int]:
        return self.space.size


def target_size(profile: ModelProfile, width: int, height: int) -> tuple[int, int]:
    """The size the model should see a `width` x `height` screen region at."""
    match profile.resize:
        case "smart":
            h, w = smart_resize(height, width, min_pixels=profile.min_pixels, max_pixels=profile.max_pixels)
            return (w, h)
        case "xga":
            return fit_xga(width, height) or fit_max_pixels(width, height, profile.max_pixels, profile.max_edge)
        case _:
            return fit_max_pixels(width, height, profile.max_pixels, profile.max_edge)


def observation_region(observation: Observation) -> Box:
    shot = observation.screenshot
    w, h = shot.size
    return Box(left=shot.left, top=shot.top, right=shot.left + w, bottom=shot.top + h)


def encode(image: Image.Image, space: ImageSpace, fmt: str = "jpeg", quality: int = 95) -> EncodedImage:
    encoded = encode_image(image, "png" if fmt == "png" else "jpeg", quality)
    return EncodedImage(b64=base64.b64encode(encoded.data).decode("ascii"), media_type=encoded.media_type,
                        space=space)


def scaled_observation(observation: Observation, profile: ModelProfile) -> tuple[Image.Image, ImageSpace]:
    """The screenshot at the profile's size, and its ImageSpace.

    A smart-resize size a few pixels larger than the screen (1920x1080 -> 1932x1092) is reached by
    padding, not scaling: the pixels stay sharp and it costs a copy (2.5 ms) instead of a resample
    (12 ms); points the model gives in the padding clamp to the screen's edge."""
    region = observation_region(observation)
    size = target_size(profile, region.width, region.height)
    image = observation.screenshot.image
    if profile.resize == "smart" and 0 <= size[0] - region.width < 28 and 0 <= size[1] - region.height < 28:
        return image.crop((0, 0, *size)), ImageSpace.padded(region, size)  # crop past the edge pads black
    return resize(image, size), ImageSpace.scaled(region, size)


def encode_observation(observation: Observation, profile: ModelProfile,
                       elements: tuple[Element, ...] = ()) -> EncodedImage:
    """Scale (and, with `elements`, draw marks on) the screenshot, then encode it."""
    image, space = scaled_observation(observation, profile)
    if elements:
        image = draw_marks(image, space, elements)
    return encode(image, space, profile.image_format, profile.image_quality)


def zoom(observation: Observation, region: Box, max_size: tuple[int, int],
         fmt: str = "jpeg", quality: int = 95) -> EncodedImage:
    """A crop of `region` (screen space) at up to `max_size`, never upscaled past 2x."""
    shot = observation.screenshot
    full = observation_region(observation)
    left, top = max(region.left, full.left), max(region.top, full.top)
    right, bottom = min(region.right, full.right), min(region.bottom, full.bottom)
    if right - left < 2 or bottom - top < 2:
        raise ValueError("zoom region is outside the screen or empty")
    clipped = Box(left=left, top=top, right=right, bottom=bottom)
    crop = shot.image.crop((left - shot.left, top - shot.top, right - shot.left, bottom - shot.top))
    factor = min(max_size[0] / clipped.width, max_size[1] / clipped.height, 2.0)
    size = (max(1, round(clipped.width * factor)), max(1, round(clipped.height * factor)))
    if size[0] > crop.width:
        crop = crop.resize(size, Image.Resampling.LANCZOS)
    else:
        crop = resize(crop, size)  # the same legible downscale as the screenshot
    return encode(crop, ImageSpace.scaled(clipped, size), fmt, quality)


# A minimal Set-of-Mark drawing, private to the planners until agent/perception/marks.py lands
# (the lead switches `draw_marks` over at merge).
_COLOURS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240))


def legend(elements: tuple[Element, ...], limit: int = 200) -> str:
    """The model-facing legend (`agent.perception.marks.legend`), at most `limit` lines."""
    text = marks.legend(marks.ordered(elements)[:limit])  # the widgets survive the limit
    if len(elements) > limit:
        text += f"\n... {len(elements) - limit} more marks not listed"
    return text


def draw_marks(image: Image.Image, space: ImageSpace, elements: tuple[Element, ...]) -> Image.Image:
    """Numbered marks on a copy of the scaled image (`agent.perception.marks.draw_marks`)."""
    return marks.draw_marks(image, elements, space=space)
