"""Grounding that prefers what can be acted on: widgets before text, selectors, framed OCR labels."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from actions.desktop.base import Screenshot
from actions.models import Box
from agent.perception.elements import Element
from agent.perception.find import Selector, find
from agent.perception.marks import legend
from agent.perception.widgets import FRAMED, framed_buttons, interactive


def box(l: int, t: int, r: int, b: int) -> Box:
    return Box(left=l, top=t, right=r, bottom=b)


def el(id: int, text: str, b: Box, role: str = "text", source: str = "ocr", states: tuple[str, ...] = ()) -> Element:
    return Element(id=id, text=text, box=b, role=role, source=source, states=states)  # type: ignore[arg-type]


def calc() -> list[Element]:
    """xcalc as OCR sees it: the display's readout 7 at the top, framed keys below."""
    key = (FRAMED,)
    return [el(1, "7", box(300, 20, 310, 34)),                                     # display readout
            el(2, "7", box(60, 200, 70, 214), role="push button", states=key),
            el(3, "8", box(110, 200, 120, 214), role="push button", states=key),
            el(4, "4", box(60, 240, 70, 254), role="push button", states=key),
            el(5, "Total", box(40, 120, 90, 134)),
            el(6, "7", box(60, 160, 70, 174)),                                    # a static 7 under Total
            el(7, "1", box(60, 280, 70, 294), role="push button", states=key)]


def test_a_widget_outranks_the_same_text_as_a_readout_and_is_not_ambiguous() -> None:
    m = find(calc(), "7")
    assert m.best is not None and m.best.id == 2 and not m.ambiguous, m.reason
    assert find(calc(), "1").best.id == 7  # type: ignore[union-attr]


def test_a11y_roles_are_interactive_and_labels_are_not() -> None:
    button = el(1, "Save", box(10, 300, 60, 320), role="push button", source="a11y")
    label = el(2, "Save", box(10, 10, 90, 40), role="label", source="a11y")
    link = el(3, "Help", box(0, 0, 10, 10), role="link", source="a11y")
    assert interactive(button) and interactive(link) and not interactive(label)
    assert find([label, button], "Save").best == button  # though the label is taller


def test_remaining_ambiguity_lists_candidates_with_kinds_and_positions() -> None:
    elements = [el(1, "7", box(110, 330, 130, 350), role="push button", states=(FRAMED,)),
                el(2, "7", box(210, 330, 230, 350), role="push button", states=(FRAMED,))]
    m = find(elements, "7")
    assert m.ambiguous
    assert m.reason.startswith("'7' is ambiguous: button '7' at (120,340), button '7' at (220,340)")
    texts = find([el(1, "7", box(50, 70, 70, 90)), el(2, "7", box(50, 170, 70, 190))], "7")
    assert texts.ambiguous and "text '7' at (60,80), text '7' at (60,180)" in texts.reason


@pytest.mark.parametrize("kwargs, expected", [
    ({"interactive": True}, 2),
    ({"relation": "in", "anchor": "keypad"}, 2),
    ({"nth": 1}, 1), ({"nth": 2}, 6), ({"nth": 3}, 2), ({"nth": -1}, 2),
    ({"relation": "below", "anchor": "Total"}, 6),
    ({"relation": "above", "anchor": "Total"}, 1),
    ({"relation": "near", "anchor": "8"}, 2),
    ({"relation": "left of", "anchor": "8"}, 2),
    ({"relation": "in", "anchor": "Total"}, None),
])
def test_selectors_choose_which_one(kwargs: dict[str, object], expected: int | None) -> None:
    m = find(calc(), "7", **kwargs)  # type: ignore[arg-type]
    assert (m.best.id if m.best else None) == expected, m.reason
    assert not m.ambiguous


@pytest.mark.parametrize("kwargs, message", [
    ({"interactive": True, "relation": "above", "anchor": "Total"},
     "no button '7' above 'Total' on screen; only text '7' at (305,27), which cannot be clicked"),
    ({"nth": 4}, "no 4th '7': 3 on screen (text '7' at (305,27), text '7' at (65,167), button '7' at (65,207))"),
    ({"relation": "below", "anchor": "Grand"}, "no 'Grand' on screen to find '7' below 'Grand'"),
    ({"relation": "below", "anchor": "1"}, "no element reads like '7' below '1'"),
])
def test_a_selector_that_matches_nothing_names_what_was_asked(kwargs: dict[str, object], message: str) -> None:
    m = find(calc(), "7", **kwargs)  # type: ignore[arg-type]
    assert m.best is None and message in m.reason, m.reason


def test_an_ambiguous_anchor_is_not_guessed() -> None:
    elements = [*calc(), el(8, "Total", box(240, 120, 290, 134))]
    m = find(elements, "7", relation="below", anchor="Total")
    assert m.best is None and m.reason.startswith("'Total' (to find '7' below 'Total') is ambiguous: text 'Total' at")


def test_selector_kwargs_and_description() -> None:
    assert Selector().kwargs() == {}
    s = Selector(interactive=True, nth=2, relation="below", anchor="Total")
    assert s.kwargs() == {"interactive": True, "nth": 2, "relation": "below", "anchor": "Total"}
    assert s.describe("7") == "the 2nd button '7' below 'Total'"


def test_the_legend_lists_interactive_marks_first_in_reading_order() -> None:
    lines = legend(calc()).splitlines()
    assert [line.split("]")[0] for line in lines] == ["[2", "[3", "[4", "[7", "[1", "[5", "[6"]
    assert lines[0] == '[2] push button "7"'


def _screen(frames: list[tuple[Box, Box]], extra: list[Box] = ()) -> Screenshot:  # type: ignore[assignment]
    image = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(image)
    for frame, glyph in frames:
        draw.rectangle((frame.left, frame.top, frame.right, frame.bottom), outline="black", width=1)
        draw.rectangle((glyph.left + 2, glyph.top + 1, glyph.right - 3, glyph.bottom - 2), fill="black")
    for glyph in extra:
        draw.rectangle((glyph.left + 2, glyph.top + 1, glyph.right - 3, glyph.bottom - 2), fill="black")
    return Screenshot(image=image, left=100, top=50)


def test_framed_labels_become_buttons_and_readouts_and_loose_text_do_not() -> None:
    key, key_text = box(20, 100, 60, 126), box(35, 106, 45, 120)          # a key, its label centred
    shown, shown_text = box(10, 10, 300, 60), box(270, 16, 290, 30)       # a readout, right-aligned
    loose = box(200, 200, 240, 214)                                       # text with no frame
    shot = _screen([(key, key_text), (shown, shown_text)], [loose])
    def moved(b: Box) -> Box:
        return box(b.left + 100, b.top + 50, b.right + 100, b.bottom + 50)
    elements = [el(1, "7", moved(key_text)), el(2, "0", moved(shown_text)), el(3, "Hello", moved(loose)),
                el(4, "OK", moved(key_text), role="push button", source="a11y")]
    out = framed_buttons(elements, shot)
    assert [(e.role, FRAMED in e.states) for e in out] == [
        ("push button", True), ("text", False), ("text", False), ("push button", False)]
    assert out[0].model_copy(update={"role": "text", "states": ()}) == elements[0]


def test_the_same_case_wins_over_a_case_folded_match() -> None:
    key = (FRAMED,)
    elements = [el(1, "E", box(150, 310, 160, 330), role="push button", states=key),
                el(2, "e", box(60, 220, 70, 240), role="push button", states=key)]
    assert find(elements, "e").best.id == 2 and not find(elements, "e").ambiguous  # type: ignore[union-attr]
    assert find(elements, "E").best.id == 1 and not find(elements, "E").ambiguous  # type: ignore[union-attr]
