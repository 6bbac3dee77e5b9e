"""Every Protocol has a real and a fake implementation shipped in the package, and both conform.

Structure: each Protocol member exists on both classes, and each method takes the Protocol's
parameters under the same names (the drift a missing `self` or a renamed keyword would be). The
fakes also honour the Protocol's contract in behaviour (httpx's MockTransport pattern), with no
display, no model and no OCR model loaded.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from PIL import Image

from actions.desktop.base import Desktop
from actions.desktop.fake import DryRunDesktop, FakeDesktop
from actions.desktop.x11 import PyAutoGUIDesktop
from actions.models import Box, Click, Point
from actions.readiness import FakeReadiness, NoReadiness, Readiness
from agent.cli.status import RichStatus
from agent.demonstration.targets import FakeLabeler, Labeler, OcrLabeler
from agent.mcp.session import ClientPlanner
from agent.perception.actionability import Actionability
from agent.perception.atspi_focus import FakeProbe, FocusProbe, Probe
from agent.perception.elements import Element
from agent.perception.fake import FakePerceiver
from agent.perception.ocr import FakeOcrEngine, OcrEngine, RapidOcrEngine, TextLine
from agent.perception.perceiver import Perceiver, ScreenPerceiver
from agent.planners.anthropic import AnthropicPlanner
from agent.planners.base import Planner
from agent.planners.offline.planner import OfflinePlanner
from agent.planners.openai_chat import ChatPlanner
from agent.planners.openai_cua import OpenAICUAPlanner
from agent.planners.pending import PendingPlanner
from agent.planners.scripted import ScriptedPlanner
from agent.planners.uitars import UITarsPlanner
from agent.recording.format import Outcome, Session
from agent.recording.writer import FolderRecorder, MemoryRecorder, Recorder
from agent.replay.recorded import RecordedPlanner
from agent.status import ListStatus, NoStatus, StatusSink
from agent.testing.judge import FakeJudge, Judge, ModelJudge

IMPLEMENTATIONS: list[tuple[type, type, list[type]]] = [   # (Protocol, fake, real ones)
    (Desktop, FakeDesktop, [PyAutoGUIDesktop, DryRunDesktop]),
    (Planner, ScriptedPlanner, [OfflinePlanner, RecordedPlanner, AnthropicPlanner, OpenAICUAPlanner, ChatPlanner,
                                UITarsPlanner, ClientPlanner, PendingPlanner]),
    (Recorder, MemoryRecorder, [FolderRecorder]),
    (OcrEngine, FakeOcrEngine, [RapidOcrEngine]),
    (Perceiver, FakePerceiver, [ScreenPerceiver]),
    (Judge, FakeJudge, [ModelJudge]),
    (Labeler, FakeLabeler, [OcrLabeler]),
    (Readiness, FakeReadiness, [Actionability, NoReadiness]),
    (Probe, FakeProbe, [FocusProbe]),
    (StatusSink, ListStatus, [NoStatus, RichStatus]),
]


def protocol_members(protocol: type) -> dict[str, object]:
    """Methods and properties declared in the Protocol body, plus its annotated attributes."""
    members: dict[str, object] = {name: None for name in getattr(protocol, "__annotations__", {})}
    for name, value in vars(protocol).items():
        if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property)):
            members[name] = value
    return members


def has_member(cls: type, name: str) -> bool:
    """Class attribute, property or method; or an attribute every instance sets in __init__."""
    if any(name in vars(k) for k in cls.__mro__):
        return True
    inits = [vars(k)["__init__"] for k in cls.__mro__ if k is not object and "__init__" in vars(k)]
    return any(f"self.{name} =" in inspect.getsource(init) for init in inits)


def parameters(function: object) -> list[str]:
    return [p.name for p in inspect.signature(function).parameters.values()  # type: ignore[arg-type]
            if p.name != "self"]


CASES = [(protocol, impl) for protocol, fake, reals in IMPLEMENTATIONS for impl in [fake, *reals]]


@pytest.mark.parametrize("protocol, impl", CASES, ids=[f"{p.__name__}-{i.__name__}" for p, i in CASES])
def test_implementation_has_every_member_with_the_protocol_parameters(protocol: type, impl: type) -> None:
    for name, declared in protocol_members(protocol).items():
        assert has_member(impl, name), f"{impl.__name__} lacks {protocol.__name__}.{name}"
        ours = next((vars(k)[name] for k in impl.__mro__ if name in vars(k)), None)
        if inspect.isfunction(declared) and inspect.isfunction(ours):
            assert parameters(ours) == parameters(declared), f"{impl.__name__}.{name} takes other parameters"


def test_every_protocol_ships_a_fake_in_the_package() -> None:
    for protocol, fake, reals in IMPLEMENTATIONS:
        assert fake.__module__.startswith(("agent.", "actions.")), fake
        assert reals and fake not in reals


def frame(text_at: tuple[int, int] | None = None) -> Image.Image:
    image = Image.new("RGB", (320, 200), "white")
    if text_at:
        image.paste((0, 0, 0), (*text_at, text_at[0] + 40, text_at[1] + 12))
    return image


def test_fake_desktop_serves_frames_that_fit_its_geometry_and_records_input() -> None:
    desktop = FakeDesktop([frame(), frame((10, 10))])
    assert isinstance(desktop, Desktop)
    geometry = desktop.geometry()
    assert desktop.capture().size == (geometry.width, geometry.height)
    desktop.click(5, 6, "left", 2, ("ctrl",))
    assert desktop.cursor() == Point(x=5, y=6) and desktop.calls == [("click", 5, 6, "left", 2, ("ctrl",))]
    dry = DryRunDesktop(desktop)
    dry.type_text("hi")
    assert dry.would == [("type", "hi")] and desktop.calls[-1][0] == "click"


def test_fake_perceiver_observes_and_settles_on_the_desktop_frames() -> None:
    desktop = FakeDesktop([frame(), frame((10, 10))])
    element = Element(id=1, text="OK", box=Box(left=0, top=0, right=10, bottom=10))
    perceiver = FakePerceiver(desktop, elements=(element,))
    assert isinstance(perceiver, Perceiver)
    first = perceiver.observe()
    assert first.screen == desktop.geometry() and first.elements == (element,)
    assert perceiver.observe(first.screenshot, elements=False).elements == ()
    assert perceiver.settle(first.screenshot).did_change  # the second frame differs


def test_scripted_planner_plays_its_turns_then_fails() -> None:
    planner = ScriptedPlanner([[Click(x=1, y=2)]])
    assert isinstance(planner, Planner) and not planner.capabilities.model_calls
    planner.prepare("any task")
    obs = FakePerceiver(FakeDesktop()).observe()
    assert planner.next_turn("t", obs, []).actions == (Click(x=1, y=2),)
    assert planner.next_turn("t", obs, []).actions[0].kind == "fail"


def test_memory_recorder_keeps_what_a_folder_recorder_writes(tmp_path: Path) -> None:
    for recorder in (MemoryRecorder(), FolderRecorder(tmp_path)):
        assert isinstance(recorder, Recorder)
        recorder.start(Session(task="t"))
        frame_ref = recorder.add_frame(frame())
        assert frame_ref and recorder.add_frame(frame()) == frame_ref  # identical frames stored once
        recorder.finish(Outcome(status="done"))
        recorder.close()


def test_fake_ocr_engine_reads_the_lines_inside_the_crop() -> None:
    engine = FakeOcrEngine([TextLine(text="Save", box=Box(left=100, top=50, right=140, bottom=62), confidence=0.9)])
    assert isinstance(engine, OcrEngine)
    crop = frame().crop((80, 40, 200, 100))
    crop.info["origin"] = (80, 40)
    assert [(line.text, line.box.left) for line in engine.read(crop)] == [("Save", 20)]
    assert engine.read(frame().crop((0, 0, 50, 30))) == []


def test_fake_judge_answers_and_counts_a_model_call() -> None:
    judge = FakeJudge("yes")
    assert isinstance(judge, Judge)
    answer, usage = judge.ask("is it there?", FakePerceiver(FakeDesktop()).observe())
    assert (answer, usage.model_calls, judge.prompts) == ("yes", 1, ["is it there?"])


def test_fake_labeler_names_the_element_under_the_point() -> None:
    save = Element(id=1, text="Save", box=Box(left=100, top=50, right=140, bottom=62))
    labeler = FakeLabeler([save])
    assert isinstance(labeler, Labeler)
    assert labeler.label(frame(), Point(x=120, y=56)) == save
    assert labeler.label(frame(), Point(x=300, y=190)) is None
    assert labeler.asked == [Point(x=120, y=56), Point(x=300, y=190)]

