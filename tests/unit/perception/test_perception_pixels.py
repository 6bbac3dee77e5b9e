"""Capture/scale/encode, fingerprints, tile regions, settle (with a scripted desktop and clock)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from actions.desktop.base import Screenshot
from actions.desktop.fake import FakeDesktop
from actions.errors import UsageError
from actions.models import Box
from agent.perception import regions as rg
from agent.perception.capture import (
    capture_frame,
    encode_image,
    fingerprint,
    fit_size,
    frame_hash,
    scale_image,
)
from agent.perception.settle import settle


def _screen(size: tuple[int, int] = (1920, 1080)) -> Image.Image:
    image = Image.new("RGB", size, (40, 40, 60))
    draw = ImageDraw.Draw(image)
    draw.rectangle((100, 100, 700, 500), fill="white")
    draw.text((120, 120), "Hello", fill="black")
    return image


def test_fit_size_keeps_aspect_and_never_upscales() -> None:
    assert fit_size((1920, 1080), (1280, 720)) == (1280, 720)
    assert fit_size((1280, 800), (1280, 720)) == (1152, 720)
    assert fit_size((800, 600), (1280, 720)) == (800, 600)


@pytest.mark.parametrize("size", [(1280, 720), (960, 540), (1000, 563), (480, 270)])
def test_scale_image_gives_exact_size_and_keeps_content(size: tuple[int, int]) -> None:
    small = scale_image(_screen(), size)
    assert small.size == size and small.mode == "RGB"
    # the white panel is still white in the middle, the background still dark
    sx = size[0] / 1920
    assert small.getpixel((int(400 * sx), int(400 * sx))) == (255, 255, 255)
    assert small.getpixel((size[0] - 2, size[1] - 2)) == (40, 40, 60)


@pytest.mark.parametrize(("fmt", "magic", "media"), [("jpeg", b"\xff\xd8", "image/jpeg"),
                                                     ("png", b"\x89PNG", "image/png"),
                                                     ("webp", b"RIFF", "image/webp")])
def test_encode_image_formats(fmt: str, magic: bytes, media: str) -> None:
    enc = encode_image(_screen((320, 200)), fmt)  # type: ignore[arg-type]
    assert enc.data.startswith(magic) and enc.media_type == media and enc.size == (320, 200)
    assert Image.open(io.BytesIO(enc.data)).size == (320, 200)


def test_encode_image_rejects_unknown_format() -> None:
    with pytest.raises(UsageError, match="unknown image format"):
        encode_image(_screen((32, 32)), "gif")  # type: ignore[arg-type]


def test_capture_frame_scales_a_1080p_desktop_to_720p() -> None:
    frame = capture_frame(FakeDesktop([_screen()]), size=(1280, 720), fmt="jpeg")
    assert frame.image.size == (1280, 720)
    assert frame.scale == pytest.approx(2 / 3)
    assert frame.screenshot.image.size == (1920, 1080)
    assert set(frame.timings_ms) == {"capture", "scale", "encode"}
    assert frame.space.size == (1280, 720) and frame.space.scale_x == pytest.approx(1.5)


def test_fingerprint_sees_a_single_pixel_change() -> None:
    a = _screen()
    b = a.copy()
    b.putpixel((1000, 900), (41, 40, 60))
    assert fingerprint(a) == fingerprint(a.copy())
    b.putpixel((1000, 900), (255, 255, 255))
    assert fingerprint(a) != fingerprint(b)
    assert frame_hash(a) == frame_hash(a.copy()) != frame_hash(b)


def test_changed_regions_find_the_changed_tile_only() -> None:
    a = _screen()
    b = a.copy()
    ImageDraw.Draw(b).rectangle((1500, 800, 1510, 805), fill="red")
    regions = rg.changed_regions(a, b)
    assert len(regions) == 1
    r = regions[0]
    assert r.left <= 1500 and r.top <= 800 and r.right >= 1511 and r.bottom >= 806
    assert r == Box(left=1500, top=800, right=1511, bottom=806)  # tiles shrunk to the exact change
    assert rg.diff_bbox(a, b) == Box(left=1500, top=800, right=1511, bottom=806)
    assert rg.changed_regions(a, a.copy()) == [] and rg.diff_bbox(a, a.copy()) is None


def test_content_regions_skip_flat_background() -> None:
    assert rg.content_regions(Image.new("RGB", (640, 480), "black")) == []
    regions = rg.content_regions(_screen((800, 600)))
    assert regions and all(r.left >= 64 and r.top >= 64 for r in regions)


def test_merge_boxes_joins_near_boxes_only() -> None:
    a, b = Box(left=0, top=0, right=10, bottom=10), Box(left=15, top=0, right=20, bottom=10)
    far = Box(left=100, top=100, right=110, bottom=110)
    assert rg.merge_boxes([a, b, far], gap=6) == [Box(left=0, top=0, right=20, bottom=10), far]
    assert len(rg.merge_boxes([a, b, far], gap=0)) == 3


# --------------------------------------------------------------------------- settle


class ScriptedScreen:
    """A desktop whose picture depends on a fake clock; each capture costs `grab_s` seconds."""

    def __init__(self, change_until: float, grab_s: float = 0.015) -> None:
        self.now = 0.0
        self.change_until = change_until
        self.grab_s = grab_s
        self.grabs = 0
        self.base = _screen((320, 200))

    def clock(self) -> float:
        return self.now

    def capture(self, monitor: int | None = None) -> Screenshot:
        self.now += self.grab_s
        self.grabs += 1
        image = self.base.copy()
        if self.now < self.change_until:
            x = int(self.now * 1000) % 200
            ImageDraw.Draw(image).rectangle((x, 150, x + 20, 170), fill="blue")
        else:
            ImageDraw.Draw(image).rectangle((250, 150, 270, 170), fill="blue")
        return Screenshot(image=image)


def test_settle_returns_promptly_on_a_still_screen() -> None:
    screen = ScriptedScreen(change_until=0.0)
    result = settle(screen, clock=screen.clock)  # type: ignore[arg-type]
    assert not result.timed_out
    assert result.waited_s <= 0.06 and result.grabs == 3


def test_settle_waits_for_an_animation_then_reports_the_change() -> None:
    screen = ScriptedScreen(change_until=0.5)
    before = Screenshot(image=screen.base.copy())
    result = settle(screen, before=before, clock=screen.clock)  # type: ignore[arg-type]
    assert not result.timed_out
    assert 0.5 <= result.waited_s <= 0.5 + 0.06
    assert result.changed == Box(left=250, top=150, right=271, bottom=171)


def test_settle_gives_up_at_the_cap() -> None:
    screen = ScriptedScreen(change_until=99.0)
    result = settle(screen, timeout_s=0.3, clock=screen.clock)  # type: ignore[arg-type]
    assert result.timed_out and 0.3 <= result.waited_s <= 0.35


def test_settle_waits_for_the_first_change_when_asked() -> None:
    screen = ScriptedScreen(change_until=0.0)
    screen.base = _screen((320, 200))
    before = Screenshot(image=screen.capture().image)  # the final picture: no change will come
    screen.now = 0.0
    result = settle(screen, before=before, expect_change_s=0.2, clock=screen.clock)  # type: ignore[arg-type]
    assert 0.2 <= result.waited_s <= 0.25 and result.changed is None and not result.did_change
