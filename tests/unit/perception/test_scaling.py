"""Scaling conventions: sizes match the references, and round trips stay within a pixel."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from actions.models import Box
from agent.perception.scaling import (
    ImageSpace,
    box_to_image,
    box_to_screen,
    fit_max_pixels,
    fit_xga,
    image_to_screen,
    in_image,
    resize,
    screen_to_image,
    smart_resize,
)

screens = st.tuples(st.integers(640, 3840), st.integers(480, 2160))


def space_for(screen: tuple[int, int], size: tuple[int, int], origin: tuple[int, int] = (0, 0)) -> ImageSpace:
    l, t = origin
    return ImageSpace.scaled(Box(left=l, top=t, right=l + screen[0], bottom=t + screen[1]), size)


def test_fit_xga_picks_by_aspect_ratio() -> None:
    assert fit_xga(1920, 1080) == (1366, 768)
    assert fit_xga(2560, 1600) == (1280, 800)
    assert fit_xga(1600, 1200) == (1024, 768)
    assert fit_xga(1024, 768) is None  # not smaller than the screen
    assert fit_xga(2560, 1080) is None  # ultra-wide: no target


def test_smart_resize_matches_reference_example() -> None:
    # vlm-api.md: 1920x1080 resizes to 1932x1092 (max_pixels of ui-tars: 16384*28*28)
    assert smart_resize(1080, 1920, max_pixels=16384 * 28 * 28, min_pixels=100 * 28 * 28) == (1092, 1932)
    space = space_for((1920, 1080), (1932, 1092))
    p = image_to_screen(space, 960, 540)
    assert (p.x, p.y) == (954, 534)


@given(st.integers(28, 5000), st.integers(28, 5000))
def test_smart_resize_is_multiple_of_28_within_budget(h: int, w: int) -> None:
    if max(h, w) / min(h, w) > 200:
        return
    rh, rw = smart_resize(h, w, max_pixels=1280 * 28 * 28)
    assert rh % 28 == 0 and rw % 28 == 0
    assert rh * rw <= 1280 * 28 * 28


@given(screens, st.integers(200_000, 2_000_000))
def test_fit_max_pixels_keeps_aspect_and_budget(screen: tuple[int, int], budget: int) -> None:
    w, h = fit_max_pixels(*screen, budget)
    assert w * h <= max(budget, 1) + w + h
    assert abs(w / h - screen[0] / screen[1]) < 0.02 * screen[0] / screen[1] + 2 / h


@given(screens, st.sampled_from([(1024, 768), (1280, 800), (1366, 768), (1280, 720)]),
       st.sampled_from(["pixels", "grid1000", "fraction"]), st.data())
def test_screen_image_screen_round_trip_within_one_pixel(screen, size, convention, data) -> None:
    origin = data.draw(st.tuples(st.integers(0, 1920), st.integers(0, 1080)))
    space = space_for(screen, size, origin)
    sx = data.draw(st.integers(origin[0], origin[0] + screen[0] - 1))
    sy = data.draw(st.integers(origin[1], origin[1] + screen[1] - 1))
    ix, iy = screen_to_image(space, sx, sy, convention)
    assert in_image(space, ix, iy, convention)
    back = image_to_screen(space, ix, iy, convention)
    assert abs(back.x - sx) <= 1 and abs(back.y - sy) <= 1


@given(screens, st.sampled_from([(1024, 768), (1366, 768), (1932, 1092)]), st.data())
def test_integer_image_point_round_trip(screen, size, data) -> None:
    """A model answers in whole image pixels: mapping to screen and back lands on the same pixel
    (whenever the image is not larger than the screen, which is how models are fed)."""
    screen = (max(screen[0], size[0] - 12), max(screen[1], size[1] - 12))
    space = space_for(screen, size)
    ix = data.draw(st.integers(0, size[0] - 1))
    iy = data.draw(st.integers(0, size[1] - 1))
    p = image_to_screen(space, ix, iy)
    bx, by = screen_to_image(space, p.x, p.y)
    assert abs(bx - ix) <= 1 and abs(by - iy) <= 1


@given(screens, st.integers(0, 27), st.integers(0, 27), st.sampled_from(["pixels", "grid1000", "fraction"]),
       st.data())
def test_padded_image_round_trip_is_exact_and_the_padding_clamps(screen, pad_x, pad_y, convention, data) -> None:
    """A screen sent at its own scale in a slightly larger (smart-resize) image, padded black."""
    space = ImageSpace.padded(Box(left=0, top=0, right=screen[0], bottom=screen[1]),
                              (screen[0] + pad_x, screen[1] + pad_y))
    sx, sy = data.draw(st.integers(0, screen[0] - 1)), data.draw(st.integers(0, screen[1] - 1))
    ix, iy = screen_to_image(space, sx, sy, convention)
    back = image_to_screen(space, ix, iy, convention)
    assert abs(back.x - sx) <= 1 and abs(back.y - sy) <= 1
    if convention == "pixels":
        assert (ix, iy) == (sx, sy)
    corner = image_to_screen(space, space.width - 1, space.height - 1)
    assert (corner.x, corner.y) == (screen[0] - 1, screen[1] - 1)


def test_points_are_clamped_into_the_region() -> None:
    space = space_for((1920, 1080), (1366, 768), origin=(100, 50))
    p = image_to_screen(space, 1366, 768)
    assert (p.x, p.y) == (100 + 1919, 50 + 1079)
    assert not in_image(space, 1367, 10)


def test_boxes_convert_both_ways() -> None:
    space = space_for((1920, 1080), (1000, 1000))
    box = box_to_screen(space, (100, 100, 200, 300), "grid1000")
    assert (box.left, box.top) == (192, 108)
    assert (box.right, box.bottom) == (385, 325)
    assert box_to_image(ImageSpace.identity(100, 100), Box(left=1, top=2, right=3, bottom=4)) == (1, 2, 3, 4)


def test_resize_uses_exact_factors_and_keeps_identity() -> None:
    img = Image.new("RGB", (1920, 1080), "red")
    assert resize(img, (1920, 1080)) is img
    assert resize(img, (960, 540)).size == (960, 540)
    assert resize(img, (1366, 768)).size == (1366, 768)


def test_resize_in_bands_is_pixel_identical_to_one_lanczos_call() -> None:
    import numpy as np
    from PIL import Image as PILImage
    rng = np.random.default_rng(7)
    img = PILImage.fromarray(rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8))
    whole = img.resize((1366, 768), PILImage.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(resize(img, (1366, 768))), np.asarray(whole))
    odd = img.resize((1315, 739), PILImage.Resampling.LANCZOS)  # a band edge between source rows: rounding
    diff = np.abs(np.asarray(resize(img, (1315, 739))).astype(int) - np.asarray(odd).astype(int))
    assert diff.max() <= 1
