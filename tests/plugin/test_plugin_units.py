"""Unit tests of the plugin's parts that need no display: cache file, scenario parsing, OCR
cross-checks of model answers, cache-hit verification."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from pydantic import BaseModel

from actions.desktop.base import ScreenGeometry, Screenshot
from actions.models import Box, Click, Target, Type
from agent.perception.elements import Element
from agent.perception.find import Selector
from agent.perception.numbers import NumberChecker
from agent.perception.observation import Observation
from agent.perception.ocr import TextLine
from agent.planners.offline.instructions import parse_step
from agent.testing.judge import FakeJudge, JudgeFailed, check_claim, cited_values, query_model, seen_on_screen
from agent.testing.scenario import ScenarioError, load_scenarios
from agent.testing.step_cache import CacheEntry, CacheError, CacheFile, ScreenPrint, cache_path, screen_print
from agent.testing.ui import click_step


def _entry(instruction: str = "click Submit", window: str = "422x230", layout: str = "6060606068586969") -> CacheEntry:
    click = Click(x=121, y=257, target=Target(label="Submit", bbox=Box(left=92, top=251, right=151, bottom=263),
                                              crop_hash="abc"))
    return CacheEntry(instruction=instruction, app="Uiagent-form", screen=ScreenPrint(window=window, layout=layout),
                      model="openai:gpt-4o", actions=(click, Type(text="hi")))


def test_cache_round_trip_and_diff(tmp_path: Path) -> None:
    path = cache_path(tmp_path / ".uiagent-cache", "tests/test_form.py::test_submit[a b]")
    assert path == tmp_path / ".uiagent-cache" / "tests" / "test_form" / "test_submit[a_b].yaml"
    cache = CacheFile.load(path, "t")
    assert cache.entries == [] and not cache.changed
    cache.put(_entry())
    diff = cache.diff(name="x.yaml")
    assert diff.startswith("--- /dev/null\n+++ b/x.yaml") and "+- instruction: click Submit" in diff
    cache.write()
    again = CacheFile.load(path, "t")
    assert again.entries == [_entry()] and again.diff() == ""


def test_lookup_keys_on_instruction_occurrence_app_and_a_coarse_screen(tmp_path: Path) -> None:
    cache = CacheFile(path=tmp_path / "c.yaml", test="t", entries=[_entry()])
    near = ScreenPrint(window="424x230", layout="6060606068586968")        # 1 bit, 2 px off
    assert cache.lookup("click   Submit ", 0, "Uiagent-form", near) is not None
    assert cache.lookup("click Submit", 1, "Uiagent-form", near) is None     # second occurrence
    assert cache.lookup("click Submit", 0, "XTerm", near) is None
    assert cache.lookup("click submit", 0, "Uiagent-form", near) is None     # typed text is case-sensitive
    assert cache.lookup("click Submit", 0, "Uiagent-form", ScreenPrint(window="530x230", layout="6060606068586969")) is None
    assert cache.lookup("click Submit", 0, "Uiagent-form", ScreenPrint(window="422x230", layout="9f9f9f9f97a79696")) is None


def test_screen_print_ignores_a_cursor_but_not_other_content_or_size() -> None:
    base = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(base).rectangle((40, 220, 360, 260), fill="gray")
    cursor = base.copy()
    ImageDraw.Draw(cursor).line((100, 50, 100, 64), fill="black")
    other = Image.new("RGB", (400, 300), "white")
    for x in range(0, 400, 88):
        ImageDraw.Draw(other).rectangle((x, 0, x + 44, 300), fill="gray")
    a, b, c = (screen_print(img, Box(left=0, top=0, right=400, bottom=300)) for img in (base, cursor, other))
    assert a.matches(b) and not a.matches(c)
    assert not a.matches(screen_print(base, Box(left=0, top=0, right=300, bottom=300)))


@pytest.mark.parametrize("text, message", [
    ("format: uiagent-step-cache\nversion: 1\nsteps: [\n", "c.yaml:4 is not valid YAML"),
    ("format: uiagent-step-cache\nversion: 2\n", "has format version 2; this uiagent reads version 1"),
    ("- a\n- b\n", "is not a uiagent step cache"),
    ("format: uiagent-step-cache\nversion: 1\nsteps:\n- instruction: x\n  screen: {window: '', layout: '0'}\n"
     + "  actions: [{kind: click}]\n", "c.yaml:4: step 1 is invalid: click.x: Field required"),
    ("format: uiagent-step-cache\nversion: 1\nsteps:\n- instruction: x\n  screen: {window: '', layout: '0'}\n"
     + "  colour: red\n", "c.yaml:4: step 1 is invalid: colour: Extra inputs are not permitted"),
])
def test_bad_cache_files_are_one_error_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(CacheError) as e:
        CacheFile.load(path, "t")
    assert message in str(e.value) and str(path) in str(e.value)


def test_scenario_keeps_lines_and_values(tmp_path: Path) -> None:
    path = tmp_path / "test_s.uiagent.yaml"
    path.write_text("name: one\nsteps:\n  - launch: {cmd: xcalc, timeout: 5}\n  - type: yes\n  - press: ctrl+a\n"
                    "---\nsteps:\n  - wait_for: '42'\n")
    first, second = load_scenarios(path)
    assert first.name == "one" and [s.line for s in first.steps] == [3, 4, 5]
    assert first.steps[0].args == {"cmd": "xcalc", "timeout": 5} and first.steps[1].args == {"text": "yes"}
    assert second.name == "test_s-2" and second.steps[0].args == {"text": "42"} and second.steps[0].line == 8


@pytest.mark.parametrize("text, message", [
    ("steps:\n  - clik: OK\n", ":2: unknown step 'clik' (did you mean 'click'?)"),
    ("steps:\n  - launch: {comand: xcalc}\n", ":2: unknown key 'comand' in `launch` (did you mean 'cmd'?)"),
    ("steps:\n  - wait_for: {text: x, timeout: soon}\n", ":2: `timeout` must be a number, got 'soon'"),
    ("steps:\n  - click: ''\n", ":2: `click` has an empty label"),
    ("steps: []\n", ":1: `steps:` must be a non-empty list"),
    ("name: a\nsteps:\n  - click: x\n---\nname: a\nsteps:\n  - click: y\n", ":5: two scenarios are named 'a'"),
    ("", ":1: no scenario"),
])
def test_bad_scenarios_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "test_s.uiagent.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_scenarios(path)
    assert str(e.value).startswith(f"{path}{message}"), str(e.value)


ELEMENTS = (Element(id=1, text="Total: 1,234.50", box=Box(left=0, top=0, right=100, bottom=20)),
            Element(id=2, text="Alice Smith", box=Box(left=0, top=30, right=100, bottom=50)))


def test_cited_values_and_ocr_cross_check() -> None:
    assert cited_values('the field reads "Alice" and the total is 1234.5') == ["Alice", "1234.5"]
    assert seen_on_screen("1234.50", ELEMENTS) and seen_on_screen("1,234.5", ELEMENTS)
    assert seen_on_screen("Alice", ELEMENTS) and seen_on_screen("alice smith", ELEMENTS)
    assert not seen_on_screen("1234", ELEMENTS) and not seen_on_screen("Bob", ELEMENTS)


def _observation() -> Observation:
    return Observation(screenshot=Screenshot(Image.new("RGB", (200, 100))), elements=ELEMENTS,
                       screen=ScreenGeometry(width=200, height=100, monitors=()))


@pytest.mark.parametrize("answer, passed, reason", [
    ('{"answer": "yes", "evidence": "Total: \\"1,234.50\\""}', True, "yes"),
    ('```json\n{"answer": "yes", "evidence": "the total is 99"}\n```', False, "citing '99', but OCR does not see it"),
    ('{"answer": "no", "evidence": "it is empty"}', False, "the model says no: it is empty"),
    ('{"answer": "maybe"}', False, "answered 'maybe', not yes or no"),
    ("Sure, it holds.", False, "gave no JSON answer"),
])
def test_check_claim(answer: str, passed: bool, reason: str) -> None:
    verdict = check_claim(FakeJudge(answer), "claim", _observation())
    assert verdict.passed is passed and reason in verdict.reason




class _ZoomReads:
    """An OCR engine that reads `text` in whatever zoomed crop it is given."""

    name = "zoom-reads"

    def __init__(self, text: str) -> None:
        self.text = text

    def read(self, image: Image.Image) -> list[TextLine]:
        return [TextLine(text=self.text, box=Box(left=0, top=0, right=image.width, bottom=image.height), confidence=1)]


class Invoice(BaseModel):
    total: float
    name: str


def test_numbers_in_checks_and_queries_must_be_what_a_zoomed_ocr_reads() -> None:
    said = '{"answer": "yes", "evidence": "Total: 1,234.50"}'
    assert check_claim(FakeJudge(said), "claim", _observation(), NumberChecker(_ZoomReads("1,234.50"))).passed
    misread = check_claim(FakeJudge(said), "claim", _observation(), NumberChecker(_ZoomReads("1,284.50")))
    assert not misread.passed and "you state 1234.5, but OCR of a 3x zoom of the screen at (0,0,100,20) reads " \
                                  "'1,284.50'" in misread.reason
    query = '{"total": 1234.5, "name": "Alice Smith"}'
    value, _ = query_model(FakeJudge(query), Invoice, _observation(), NumberChecker(_ZoomReads("Total: 1,234.50")))
    assert value.total == 1234.5
    with pytest.raises(JudgeFailed, match=r"Invoice from fake:judge: total: you state 1234.5, but OCR of a 3x zoom"):
        query_model(FakeJudge(query), Invoice, _observation(), NumberChecker(_ZoomReads("Total: 1,284.50")))


@pytest.mark.parametrize("chosen", [
    Selector(), Selector(nth=2), Selector(nth=-1, interactive=True), Selector(interactive=True),
    Selector(relation="below", anchor="Total"), Selector(relation="in", anchor="keypad"),
    Selector(nth=3, interactive=True, relation="left of", anchor="it's"),
])
@pytest.mark.parametrize("label", ["7", "don't", "a b"])
def test_ui_click_says_its_choice_in_the_instruction_language(label: str, chosen: Selector) -> None:
    step = parse_step(click_step(label, chosen))
    assert (step.verb, step.target, step.select) == ("click", label, chosen)
