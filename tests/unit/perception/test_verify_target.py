"""verify_target on synthetic screens: same place, moved, missing, uniform crops, duplicates, labels."""

from __future__ import annotations

import time

from PIL import Image, ImageDraw

from actions.desktop.base import Screenshot
from actions.models import Box, Click, Drag, Point, Target, Type
from agent.perception.elements import Element
from agent.perception.verify import crop_box, verify_target

SIZE = (1280, 800)


def button(draw: ImageDraw.ImageDraw, x: int, y: int, text: str, fill: str = "white") -> Box:
    draw.rectangle((x, y, x + 80, y + 30), fill=fill, outline="black", width=2)
    draw.text((x + 12, y + 9), text, fill="black")
    draw.line((x + 5, y + 25, x + 5 + 7 * len(text), y + 25), fill="navy")
    return Box(left=x, top=y, right=x + 81, bottom=y + 31)


def screen(buttons: list[tuple[int, int, str]], size: tuple[int, int] = SIZE, seed: int = 0) -> Image.Image:
    image = Image.new("RGB", size, (200, 200, 210))
    draw = ImageDraw.Draw(image)
    for i in range(0, size[0], 150):  # some unrelated structure everywhere
        draw.text((i + (seed * 7) % 40, 700), f"status {i}", fill="gray")
    for x, y, text in buttons:
        button(draw, x, y, text)
    return image


def click_on(image: Image.Image, box: Box, label: str | None = "Save") -> tuple[Click, Image.Image]:
    """A click recorded the way the loop records it: bbox + 6 px margin crop."""
    c = box.center
    crop = image.crop((box.left - 6, box.top - 6, box.right + 6, box.bottom + 6))
    return Click(x=c.x, y=c.y, target=Target(label=label, bbox=box, crop_hash="h")), crop


def test_same_place_is_ok_and_not_moved() -> None:
    image = screen([(300, 200, "Save"), (400, 200, "Open")])
    click, crop = click_on(image, Box(left=300, top=200, right=381, bottom=231))
    v = verify_target(click, crop, Screenshot(image=image))
    assert v.ok and v.moved_by == (0, 0) and v.score > 0.99 and v.action == click


def test_moved_target_is_relocated_near_and_far() -> None:
    image = screen([(300, 200, "Save"), (400, 200, "Open")])
    click, crop = click_on(image, Box(left=300, top=200, right=381, bottom=231))
    for dx, dy in ((100, 40), (-250, 450), (800, 100)):  # near, then the whole screen
        moved = screen([(300 + dx, 200 + dy, "Save"), (400 + dx, 200 + dy, "Open")])
        v = verify_target(click, crop, Screenshot(image=moved))
        assert v.ok, v.reason
        assert v.moved_by == (dx, dy)
        assert (v.action.x, v.action.y) == (click.x + dx, click.y + dy)
        assert v.action.target.bbox.left == 300 + dx


def test_missing_target_fails_with_its_best_guess() -> None:
    image = screen([(300, 200, "Save")])
    click, crop = click_on(image, Box(left=300, top=200, right=381, bottom=231))
    other = Image.new("RGB", SIZE, "black")
    ImageDraw.Draw(other).ellipse((100, 100, 600, 500), fill="orange")
    v = verify_target(click, crop, Screenshot(image=other))
    assert not v.ok and "not on screen" in v.reason and v.score < 0.6


def test_uniform_crop_is_ambiguous_unless_the_label_confirms() -> None:
    image = Image.new("RGB", SIZE, "white")
    click = Click(x=500, y=500, target=Target(crop_hash="h"))
    crop = image.crop((468, 468, 532, 532))
    v = verify_target(click, crop, Screenshot(image=image))
    assert not v.ok and "uniform" in v.reason and "no label" in v.reason
    labelled = Click(x=500, y=500, target=Target(label="Notes", crop_hash="h"))
    asking = verify_target(labelled, crop, Screenshot(image=image))
    assert not asking.ok and asking.needs_labels
    here = [Element(id=1, text="Notes", box=Box(left=480, top=490, right=530, bottom=505))]
    assert verify_target(labelled, crop, Screenshot(image=image), elements=here).ok
    far = [Element(id=1, text="Notes", box=Box(left=900, top=90, right=950, bottom=105))]
    assert not verify_target(labelled, crop, Screenshot(image=image), elements=far).ok


def test_duplicates_are_ambiguous_and_the_label_decides() -> None:
    image = screen([(300, 200, "Save")])
    box = Box(left=300, top=200, right=381, bottom=231)
    click, crop = click_on(image, box)
    twins = screen([(600, 300, "Save"), (600, 500, "Save")])  # moved, and now twice
    v = verify_target(click, crop, Screenshot(image=twins))
    assert not v.ok and "2 places" in v.reason and v.needs_labels
    # OCR sees "Save" on one and "Saved" (not the label) on the other
    elements = [Element(id=1, text="Save", box=Box(left=612, top=509, right=640, bottom=520)),
                Element(id=2, text="Sav3d", box=Box(left=612, top=309, right=650, bottom=320))]
    v = verify_target(click, crop, Screenshot(image=twins), elements=elements)
    assert v.ok and v.moved_by == (300, 300), v.reason
    unlabelled, _ = click_on(image, box, label=None)
    assert not verify_target(unlabelled, crop, Screenshot(image=twins)).ok


def test_a_duplicate_elsewhere_does_not_matter_when_the_target_did_not_move() -> None:
    image = screen([(300, 200, "Save"), (700, 600, "Save")])
    click, crop = click_on(image, Box(left=300, top=200, right=381, bottom=231))
    assert verify_target(click, crop, Screenshot(image=image)).moved_by == (0, 0)


def test_weak_match_needs_the_label() -> None:
    image = screen([(300, 200, "Save")])
    click, crop = click_on(image, Box(left=300, top=200, right=381, bottom=231))
    restyled = screen([])
    button(ImageDraw.Draw(restyled), 300, 200, "Save", fill=(250, 235, 200))
    draw = ImageDraw.Draw(restyled)
    for i in range(5):  # scribbles: the same button, but only a weak match
        draw.line((305, 204 + i * 6, 375, 228 - i * 5), fill="red", width=2)
    v = verify_target(click, crop, Screenshot(image=restyled))
    assert not v.ok and v.needs_labels and 0.6 <= v.score < 0.9, v
    label = [Element(id=1, text="Save", box=Box(left=312, top=209, right=340, bottom=220))]
    assert verify_target(click, crop, Screenshot(image=restyled), elements=label).ok
    elsewhere = [Element(id=1, text="Save", box=Box(left=912, top=209, right=940, bottom=220))]
    assert not verify_target(click, crop, Screenshot(image=restyled), elements=elsewhere).ok


def test_drag_moves_its_whole_path_and_keys_pass() -> None:
    image = screen([(300, 200, "Save")])
    box = Box(left=300, top=200, right=381, bottom=231)
    _, crop = click_on(image, box)
    drag = Drag(path=(Point(x=340, y=215), Point(x=600, y=600)), target=Target(label="Save", bbox=box))
    v = verify_target(drag, crop, Screenshot(image=screen([(350, 260, "Save")])))
    assert v.ok and v.action.path == (Point(x=390, y=275), Point(x=650, y=660))
    assert verify_target(Type(text="hi"), None, Screenshot(image=image)).ok


def test_crop_box_knows_how_crops_are_cut() -> None:
    screen_box = Box(left=0, top=0, right=1280, bottom=800)
    box = Box(left=300, top=200, right=381, bottom=231)
    click = Click(x=340, y=215, target=Target(bbox=box))
    assert crop_box(click, (93, 43), screen_box) == Box(left=294, top=194, right=387, bottom=237)
    bare = Click(x=10, y=100)
    assert crop_box(bare, (42, 64), screen_box) == Box(left=0, top=68, right=42, bottom=132)  # clipped at 0
    assert crop_box(bare, (96, 96), screen_box) == Box(left=0, top=52, right=96, bottom=148)  # uiagent record


def test_verification_is_fast_on_a_full_hd_screen() -> None:
    image = screen([(300, 200, "Save")], size=(1920, 1080))
    click, crop = click_on(image, Box(left=300, top=200, right=381, bottom=231))
    shot = Screenshot(image=image)
    moved = Screenshot(image=screen([(420, 260, "Save")], size=(1920, 1080)))
    verify_target(click, crop, shot)
    t0 = time.perf_counter()
    for _ in range(10):
        assert verify_target(click, crop, shot).ok
        assert verify_target(click, crop, moved).ok
    assert (time.perf_counter() - t0) / 20 < 0.05
