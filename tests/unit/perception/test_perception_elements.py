"""OCR engines (fake, failing), the region cache, find, a11y merge, marks, zoom,
and the Perceiver, all without a display."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from actions.desktop.base import Screenshot
from actions.desktop.fake import FakeDesktop
from actions.errors import UsageError
from actions.models import Box, Point
from agent.perception.a11y import A11yReader, decode_states, merge_elements
from agent.perception.elements import Element
from agent.perception.marks import draw_marks, legend
from agent.perception.ocr import (
    FakeOcrEngine,
    OcrUnavailable,
    RapidOcrEngine,
    TextLine,
    find,
    normalise_text,
)
from agent.perception.ocr_cache import OcrReader
from agent.perception.ocr_staged import plan_batches
from agent.perception.perceiver import ScreenPerceiver
from agent.perception.zoom import zoom


def box(l: int, t: int, r: int, b: int) -> Box:
    return Box(left=l, top=t, right=r, bottom=b)


def el(id: int, text: str, b: Box, role: str = "text", source: str = "ocr") -> Element:
    return Element(id=id, text=text, box=b, role=role, source=source)  # type: ignore[arg-type]


def page(texts: dict[str, Box], size: tuple[int, int] = (800, 600)) -> tuple[Image.Image, list[TextLine]]:
    """An image with a dark bar where each 'text' is, and the fake OCR lines for it."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for b in texts.values():
        mid = (b.top + b.bottom) // 2  # a bar of "ink", less than half the box like real text
        draw.rectangle((b.left + 2, mid - 2, b.right - 3, mid + 1), fill="black")
    return image, [TextLine(text=t, box=b, confidence=0.9) for t, b in texts.items()]


# --------------------------------------------------------------------------- engines


def test_normalise_text_folds_fullwidth_and_cjk_lookalikes() -> None:
    assert normalise_text(" ＡＢＣ（1）十 ") == "ABC(1)+"


def test_rapidocr_engine_that_cannot_import_raises_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # import fails
    engine = RapidOcrEngine()  # construction is lazy: no error yet
    with pytest.raises(OcrUnavailable, match="rapidocr could not load.*pip install"):
        engine.read(Image.new("RGB", (64, 64), "white"))
    with pytest.raises(OcrUnavailable):  # remembered, not retried
        engine.load()


def test_reader_reads_only_what_changed_and_reuses_the_rest() -> None:
    texts = {"File": box(10, 10, 60, 30), "Edit": box(400, 10, 450, 30), "Total: 3": box(400, 400, 520, 420)}
    image, lines = page(texts)
    engine = FakeOcrEngine(lines)
    reader = OcrReader(engine)
    first = reader.read(Screenshot(image=image))
    assert first.full and sorted(ln.text for ln in first.lines) == ["Edit", "File", "Total: 3"]

    changed = image.copy()  # "Total: 3" becomes "Total: 42", a bit wider
    ImageDraw.Draw(changed).rectangle((400, 400, 540, 420), fill="gray")
    engine.lines = [ln for ln in lines if ln.text != "Total: 3"] + [
        TextLine(text="Total: 42", box=box(400, 400, 540, 420), confidence=0.9)]
    engine.reads.clear()
    second = reader.read(Screenshot(image=changed))
    assert not second.full and second.reused == 2
    assert sorted(ln.text for ln in second.lines) == ["Edit", "File", "Total: 42"]
    assert len(engine.reads) == 1 and engine.reads[0].top >= 350 and engine.reads[0].left >= 350

    engine.reads.clear()
    third = reader.read(Screenshot(image=changed.copy()))
    assert engine.reads == [] and third.reused == 3


def test_reader_grows_a_region_over_the_whole_line_it_cuts() -> None:
    image, lines = page({"A long line of text": box(100, 100, 500, 120)})
    engine = FakeOcrEngine(lines)
    reader = OcrReader(engine)
    reader.read(Screenshot(image=image))
    changed = image.copy()
    changed.putpixel((480, 110), (255, 0, 0))
    engine.reads.clear()
    result = reader.read(Screenshot(image=changed))
    assert [ln.text for ln in result.lines] == ["A long line of text"]
    assert engine.reads[0].left <= 100 and engine.reads[0].right >= 500


class SquintingEngine(FakeOcrEngine):
    """Like rapidocr on xcalc: once `squint`, a lone "1" is not read (in a key-sized crop)."""

    squint = False

    def read(self, image: Image.Image) -> list[TextLine]:
        found = super().read(image)
        return [ln for ln in found if len(ln.text) > 1] if self.squint else found


def test_a_label_whose_pixels_did_not_change_survives_a_worse_re_read_around_it() -> None:
    image, lines = page({"1": box(100, 100, 106, 114), "Total": box(300, 300, 360, 320)})
    ImageDraw.Draw(image).rectangle((80, 90, 124, 124), outline="black")          # the key's frame
    engine = SquintingEngine(lines)
    reader = OcrReader(engine)
    assert sorted(ln.text for ln in reader.read(Screenshot(image=image)).lines) == ["1", "Total"]
    engine.squint = True
    hovered = image.copy()
    ImageDraw.Draw(hovered).rectangle((80, 90, 124, 124), outline="black", width=3)  # hover: a thick frame
    second = reader.read(Screenshot(image=hovered))
    assert not second.full and engine.reads and sorted(ln.text for ln in second.lines) == ["1", "Total"]
    erased = hovered.copy()
    ImageDraw.Draw(erased).rectangle((98, 98, 106, 116), fill="white")             # the label itself went
    engine.lines = [ln for ln in lines if ln.text != "1"]
    assert [ln.text for ln in reader.read(Screenshot(image=erased)).lines] == ["Total"]


def test_reader_maps_boxes_to_screen_space_for_a_monitor_crop() -> None:
    image, lines = page({"OK": box(10, 10, 40, 30)})
    shifted = [TextLine(text="OK", box=box(1930, 10, 1960, 30), confidence=1.0)]
    result = OcrReader(FakeOcrEngine(shifted), tighten=False).read(Screenshot(image=image, left=1920, top=0))
    assert [ln.box for ln in result.lines] == [box(1930, 10, 1960, 30)]
    tight = OcrReader(FakeOcrEngine(shifted)).read(Screenshot(image=image, left=1920, top=0))
    assert [ln.box for ln in tight.lines] == [box(1932, 18, 1958, 22)]  # the ink page() drew
    del lines


def test_tighten_trims_detector_padding_and_widget_borders() -> None:
    import numpy as np

    from agent.perception.regions import tighten

    image = Image.new("L", (100, 40), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 5, 90, 35), outline=0)  # a button border
    draw.rectangle((40, 15, 60, 25), fill=0)  # its "text"
    gray = np.asarray(image)
    assert tighten(gray, box(30, 10, 70, 30)) == box(40, 15, 61, 26)
    assert tighten(gray, box(10, 5, 91, 36)) == box(40, 15, 61, 26)  # padded onto the border
    assert tighten(gray, box(0, 0, 5, 5)) == box(0, 0, 5, 5)  # no ink: unchanged


def test_tighten_cuts_a_neighbours_border_and_the_border_that_clips_the_label() -> None:
    """xcalc's "trunc": the detector's box starts on the key to the left (its border, a gap, this
    key's border) and ends on this key's right border, which the clipped last letter touches."""
    import numpy as np

    from agent.perception.regions import tighten

    image = Image.new("L", (120, 40), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 5, 30, 35), outline=0)     # the neighbour key
    draw.rectangle((34, 5, 74, 35), outline=0)    # this key
    draw.rectangle((40, 15, 73, 25), fill=0)      # its label, clipped at the right border
    gray = np.asarray(image)
    tight = tighten(gray, box(28, 8, 76, 32))
    assert tight == box(40, 15, 74, 26) and 34 <= tight.left and tight.right <= 75


def test_reader_with_a_failing_engine_returns_an_empty_result_with_the_reason() -> None:
    image, _ = page({"x": box(10, 10, 40, 30)})
    result = OcrReader(FakeOcrEngine(fail="models missing")).read(Screenshot(image=image))
    assert result.lines == () and result.error == "models missing"


def test_reader_on_an_all_black_screen_reads_nothing() -> None:
    engine = FakeOcrEngine([])
    result = OcrReader(engine).read(Screenshot(image=Image.new("RGB", (1920, 1080), "black")))
    assert result.lines == () and result.regions == () and engine.reads == [] and result.error is None


# --------------------------------------------------------------------------- find


def test_find_prefers_exact_then_folded_then_fuzzy() -> None:
    elements = [el(1, "log", box(0, 0, 30, 20)), el(2, "Login", box(0, 40, 60, 60)), el(3, "B", box(0, 80, 20, 100)),
                el(4, "8", box(40, 80, 60, 100))]
    assert find(elements, "Login").best == elements[1]
    assert find(elements, "l0g").best == elements[0]  # OCR look-alike 0/o
    m = find(elements, "8")
    assert m.best == elements[3] and not m.ambiguous
    missing = find(elements, "Submit")
    assert missing.best is None and not missing.found and "no element reads like 'Submit'" in missing.reason


def test_find_says_when_a_match_is_ambiguous_and_near_resolves_it() -> None:
    elements = [el(1, "OK", box(100, 100, 140, 120)), el(2, "OK", box(600, 400, 640, 420)),
                el(3, "Cancel", box(160, 100, 220, 120))]
    m = find(elements, "ok")
    assert m.ambiguous and m.best is not None and len(m.candidates) == 2
    assert "'ok' is ambiguous: text 'OK' at (120,110), text 'OK' at (620,410)" in m.reason
    near = find(elements, "ok", near=Point(x=610, y=410))
    assert near.best == elements[1] and not near.ambiguous
    inside = find(elements, "OK", within=box(0, 0, 300, 300))
    assert inside.best == elements[0] and not inside.ambiguous


def test_find_ranks_larger_and_accessible_elements_first_on_equal_text() -> None:
    small = el(1, "Save", box(10, 300, 40, 310))
    big = el(2, "Save", box(10, 10, 90, 40), role="button", source="a11y")
    assert find([small, big], "Save").best == big


# --------------------------------------------------------------------------- a11y


def test_decode_states() -> None:
    assert decode_states([(1 << 8) | (1 << 12), 0]) == ("enabled", "focused")
    assert decode_states([0, 1 << (38 - 32)]) == ("selectable_text",)


def test_merge_prefers_a11y_and_fills_unnamed_boxes_from_ocr() -> None:
    a11y = [el(0, "7", box(100, 100, 160, 140), role="button", source="a11y"),
            el(0, "", box(100, 20, 400, 60), role="textbox", source="a11y")]
    ocr = [el(0, "7", box(122, 110, 134, 128)), el(0, "123", box(350, 30, 390, 50)),
           el(0, "Elsewhere", box(500, 500, 580, 520))]
    merged = merge_elements(a11y, ocr)
    assert [(e.id, e.text, e.role, e.source) for e in merged] == [
        (1, "123", "textbox", "merged"), (2, "7", "button", "a11y"), (3, "Elsewhere", "text", "ocr")]
    assert merged[1].box == box(100, 100, 160, 140)


def test_a11y_without_a_bus_is_empty_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert "no session bus" in (A11yReader().read().error or "")
    bad = A11yReader(bus_address="unix:path=/nonexistent/bus", timeout_s=1.0).read()
    assert bad.elements == () and "accessibility unavailable" in (bad.error or "")


# --------------------------------------------------------------------------- marks, legend, zoom


def test_draw_marks_draws_on_a_copy_in_image_space_and_keeps_labels_clear() -> None:
    image = Image.new("RGB", (1280, 720), "white")
    elements = [el(7, "OK", box(300, 300, 420, 360)), el(12, "Cancel", box(900, 600, 1080, 660))]
    marked = draw_marks(image, elements, scale=2 / 3)
    assert marked.size == image.size and image.getpixel((200, 200)) == (255, 255, 255)
    inner = marked.crop((int(300 * 2 / 3) + 3, int(300 * 2 / 3) + 3, int(420 * 2 / 3) - 3, int(360 * 2 / 3) - 3))
    assert inner.getextrema() == ((255, 255), (255, 255), (255, 255))  # the label area is untouched
    tag_area = marked.crop((int(300 * 2 / 3) - 30, int(300 * 2 / 3) - 20, int(300 * 2 / 3), int(300 * 2 / 3)))
    assert tag_area.getextrema() != ((255, 255), (255, 255), (255, 255))  # the tag sits above-left
    outline = marked.getpixel((int(360 * 2 / 3), int(300 * 2 / 3)))
    assert outline != (255, 255, 255)


def test_legend_lines() -> None:
    elements = [el(17, "7", box(0, 0, 10, 10), role="button", source="a11y"),
                Element(id=3, text="Name", box=box(0, 0, 5, 5), role="textbox", source="a11y",
                        states=("focused", "sensitive"))]
    assert legend(elements) == '[17] button "7" (disabled)\n[3] textbox "Name" (focused)'


def test_zoom_crops_scales_and_maps_back() -> None:
    image = Image.new("RGB", (800, 600), "white")
    image.putpixel((110, 120), (255, 0, 0))
    view = zoom(Screenshot(image=image, left=100, top=0), box(200, 100, 240, 140), factor=3)
    assert view.region == box(200, 100, 240, 140) and view.image.size == (120, 120)
    assert view.to_screen(*view.to_image(210, 120)) == Point(x=210, y=120)
    clamped = zoom(Screenshot(image=image), box(780, 580, 900, 700), factor=1, margin=5)
    assert clamped.region == box(775, 575, 800, 600)
    with pytest.raises(UsageError, match="outside the captured area"):
        zoom(Screenshot(image=image), box(900, 900, 950, 950))


# --------------------------------------------------------------------------- perceiver


def test_perceiver_builds_observations_with_stable_ids() -> None:
    image, lines = page({"File": box(10, 10, 60, 30), "Edit": box(100, 10, 150, 30)})
    desktop = FakeDesktop([image, image])
    engine = FakeOcrEngine(lines)
    perceiver = ScreenPerceiver(desktop, ocr=engine)
    first = perceiver.observe()
    assert [(e.id, e.text) for e in first.elements] == [(1, "File"), (2, "Edit")]
    assert first.frame_hash and first.screen.width == 800 and first.notes == ()

    later = image.copy()
    ImageDraw.Draw(later).rectangle((12, 12, 40, 27), fill="gray")  # "File" became "Help"
    engine.lines = [TextLine(text="Help", box=box(10, 10, 60, 30), confidence=0.9), lines[1]]
    second = perceiver.observe(Screenshot(image=later))
    assert {e.text: e.id for e in second.elements} == {"Edit": 2, "Help": 3}
    assert second.element(2) is not None and second.element(1) is None


def test_perceiver_reports_trouble_as_notes_not_exceptions() -> None:
    desktop = FakeDesktop([Image.new("RGB", (640, 480), "black")])
    blank = ScreenPerceiver(desktop, ocr=FakeOcrEngine([])).observe()
    assert blank.elements == () and "blank" in blank.notes[0]
    text, _ = page({"x": box(10, 10, 40, 30)})
    failing = ScreenPerceiver(FakeDesktop([text]), ocr=FakeOcrEngine(fail="rapidocr could not load")).observe()
    assert failing.elements == () and failing.notes == ("OCR unavailable: rapidocr could not load",)
    bare = ScreenPerceiver(FakeDesktop()).observe()
    assert "no element source" in bare.notes[0]
    assert ScreenPerceiver(FakeDesktop()).observe(elements=False).notes == ()


def test_reader_does_not_read_a_recurring_crop_again() -> None:
    image, lines = page({"Title": box(10, 10, 200, 30), "Body": box(10, 200, 100, 220)})
    engine = FakeOcrEngine(lines)
    reader = OcrReader(engine)
    hovered = image.copy()
    ImageDraw.Draw(hovered).rectangle((5, 5, 205, 35), outline="blue")  # e.g. a hover highlight
    for frame in (image, hovered, image):
        reader.read(Screenshot(image=frame))
    engine.reads.clear()
    again = reader.read(Screenshot(image=hovered))
    assert engine.reads == [] and sorted(ln.text for ln in again.lines) == ["Body", "Title"]


def test_draw_marks_with_an_image_space_matches_scale_and_origin() -> None:
    from agent.perception.scaling import ImageSpace

    image = Image.new("RGB", (960, 540), "white")
    elements = [el(3, "OK", box(2000, 200, 2200, 300))]  # on a second monitor at x=1920
    space = ImageSpace.scaled(box(1920, 0, 3840, 1080), (960, 540))
    a = draw_marks(image, elements, space=space)
    b = draw_marks(image, elements, scale=0.5, origin=(1920, 0))
    assert a.tobytes() == b.tobytes() and a.getpixel((90, 100)) != (255, 255, 255)


@given(st.lists(st.floats(2.0, 40.0), max_size=120))
def test_recognition_batches_cover_every_line_once_with_little_padding(ratios: list[float]) -> None:
    batches = plan_batches(ratios)
    assert sorted(i for b in batches for i in b) == list(range(len(ratios)))
    for b in batches:
        assert 1 <= len(b) <= 8
        widest = max(ratios[i] for i in b)
        assert sum(widest - ratios[i] for i in b) <= 1.7 * len(b)  # little padding in any batch


def test_short_labels_batch_together_and_a_long_line_goes_alone() -> None:
    ratios = [2.0] * 10 + [30.0]
    batches = plan_batches(ratios)
    assert [len(b) for b in batches] == [8, 2, 1] and batches[-1] == [10]
