"""Numbers a model states, confirmed by OCR of a zoomed crop of their region (fake engine, real zoom);
the loop sends a mismatch back to the model once."""

from __future__ import annotations

from PIL import Image

from actions.desktop.base import Monitor, ScreenGeometry, Screenshot
from actions.desktop.fake import FakeDesktop
from actions.executor import Executor
from actions.models import Box, Click, Done
from actions.secrets import Redactor
from agent import status
from agent.perception.elements import Element
from agent.perception.fake import FakePerceiver
from agent.perception.numbers import NumberChecker, numbers_in
from agent.perception.observation import Observation
from agent.perception.ocr import TextLine
from agent.planners.scripted import ScriptedPlanner
from agent.recording.format import Session
from agent.recording.writer import MemoryRecorder
from agent.run.loop import LoopContext, run_task
from agent.settings import Settings
from agent.status import ListStatus

DISPLAY = Box(left=200, top=20, right=240, bottom=40)


class ZoomedEngine:
    """Reads `text` from any crop, and remembers the size of each crop it was given."""

    name = "zoomed"

    def __init__(self, text: str) -> None:
        self.text = text
        self.sizes: list[tuple[int, int]] = []

    def read(self, image: Image.Image) -> list[TextLine]:
        self.sizes.append(image.size)
        return [TextLine(text=self.text, box=Box(left=0, top=0, right=image.width, bottom=image.height),
                         confidence=0.99)]


def screen(*elements: Element) -> Observation:
    shot = Screenshot(image=Image.new("RGB", (320, 200), "white"))
    return Observation(screenshot=shot, screen=ScreenGeometry(width=320, height=200, monitors=(
        Monitor(index=1, left=0, top=0, width=320, height=200),)), elements=elements)


def readout(text: str) -> Element:
    return Element(id=1, text=text, box=DISPLAY)


def key(text: str, x: int) -> Element:
    return Element(id=2, text=text, role="push button", states=("framed",), box=Box(left=x, top=100, right=x + 20,
                                                                                    bottom=120))


def test_numbers_in_text_are_plain_and_once() -> None:
    assert numbers_in("The total is 1,042.50 (was +42, then 42 again), step 3") == ["1042.5", "42", "3"]


def test_a_number_the_zoom_reads_is_confirmed_in_its_region() -> None:
    engine = ZoomedEngine("42")
    shown = ListStatus()
    with status.use(shown):
        [check] = NumberChecker(engine).check("the display shows 42", screen(key("4", 10), readout("42")))
    assert shown.texts == ["checking 42 against the screen (OCR of a 3x zoom)"]
    assert check.confirmed and check.region == DISPLAY and check.read == "42"
    assert engine.sizes == [((40 + 8) * 3, (20 + 8) * 3)]  # the region with its margin, 3x: not the screen


def test_a_misread_number_is_flagged_with_what_the_zoom_read() -> None:
    # the model says 41; the screen OCR saw nothing reading 41, the readout most like it is 42
    [check] = NumberChecker(ZoomedEngine("42")).check("It is 41", screen(key("1", 10), readout("42")))
    assert not check.confirmed and check.region == DISPLAY
    assert check.note == ("you state 41, but OCR of a 3x zoom of the screen at (200,20,240,40) reads '42': "
                          "look again before you answer")
    # the whole-screen OCR read 41 but the closer look reads 47: the closer look wins
    [closer] = NumberChecker(ZoomedEngine("47")).check("It is 41", screen(readout("41")))
    assert not closer.confirmed and "reads '47'" in closer.note


def test_a_number_nowhere_like_the_screen_is_not_confirmed() -> None:
    [check] = NumberChecker(ZoomedEngine("x")).check("It is 9000", screen(key("9", 10), readout("12")))
    assert not check.confirmed and check.region is None and "not on the screen" in check.note


def run(claims: list[str], read: str) -> tuple[object, MemoryRecorder]:
    desktop = FakeDesktop([Image.new("RGB", (320, 200), "white")] * 8)
    recorder = MemoryRecorder(Redactor({}))
    recorder.start(Session(task="t"))
    perceiver = FakePerceiver(desktop, elements=(readout("42"),))
    ctx = LoopContext(desktop=desktop, planner=ScriptedPlanner([[Done(summary=c)] for c in claims]),
                      executor=Executor(desktop), perceiver=perceiver, settle=perceiver.settle, recorder=recorder,
                      settings=Settings(), numbers=NumberChecker(ZoomedEngine(read)))
    return run_task("compute", ctx), recorder


def test_the_loop_sends_a_wrong_number_back_once_then_ends_flagged() -> None:
    outcome, recorder = run(["It is 41", "It is 41"], read="42")
    assert outcome.status == "done" and outcome.steps == 2  # type: ignore[attr-defined]
    assert outcome.reason.startswith("It is 41 (not confirmed on screen: you state 41")  # type: ignore[attr-defined]
    assert all("reads '42'" in s.notes[0] for s in recorder.steps)


def test_the_loop_takes_a_corrected_or_confirmed_number() -> None:
    corrected, recorder = run(["It is 41", "It is 42"], read="42")
    assert (corrected.status, corrected.reason, corrected.steps) == ("done", "It is 42", 2)  # type: ignore[attr-defined]
    assert recorder.steps[-1].notes[0].startswith("42 confirmed by OCR of a 3x zoom")
    confirmed, _ = run(["It is 42"], read="42")
    assert (confirmed.status, confirmed.steps) == ("done", 1)  # type: ignore[attr-defined]


class Watching(FakePerceiver):
    """Remembers the frames it was asked to read elements of."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.read: list[Image.Image] = []

    def observe(self, screenshot: Screenshot | None = None, elements: bool = True) -> Observation:
        obs = super().observe(screenshot, elements)
        if elements:
            self.read.append(obs.screenshot.image)
        return obs


def test_a_done_after_actions_in_its_turn_is_checked_on_the_frame_after_them() -> None:
    frames = [Image.new("RGB", (320, 200), c) for c in ("white", "gray", "black", "black")]
    desktop = FakeDesktop(frames)
    recorder = MemoryRecorder(Redactor({}))
    recorder.start(Session(task="t"))
    perceiver = Watching(desktop, elements=(readout("42"),))
    ctx = LoopContext(desktop=desktop, planner=ScriptedPlanner([[Click(x=5, y=5), Done(summary="It is 42")]]),
                      executor=Executor(desktop), perceiver=perceiver, settle=perceiver.settle, recorder=recorder,
                      settings=Settings(), numbers=NumberChecker(ZoomedEngine("42")))
    assert run_task("compute", ctx).status == "done"
    assert perceiver.read and perceiver.read[-1].getpixel((0, 0)) != (255, 255, 255)  # not the planned frame
    assert recorder.steps[0].notes[-1].startswith("42 confirmed")
