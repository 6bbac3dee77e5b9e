"""replay_actions through the real loop with fakes: verified clicks, relocation, refusal, typing checks."""

from __future__ import annotations

import dataclasses

from PIL import Image, ImageDraw

from actions.desktop.base import WindowInfo
from actions.desktop.fake import FakeDesktop
from actions.executor import Executor
from actions.models import Box, Click, Key, Target, Type
from agent.perception.fake import FakePerceiver
from agent.planners.scripted import ScriptedPlanner
from agent.recording.format import Session
from agent.recording.writer import MemoryRecorder
from agent.replay.playback import replay_actions
from agent.replay.recorded import RecordedPlanner, ReplayItem, ReplayOptions, plan_steps
from agent.run.loop import LoopContext, run_task
from agent.settings import Settings


def screen(at: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", (640, 400), "white")
    draw = ImageDraw.Draw(image)
    x, y = at
    draw.rectangle((x, y, x + 80, y + 30), outline="black", width=2)
    draw.text((x + 20, y + 10), "OK go", fill="black")
    return image


def context(frames: list[Image.Image], window: WindowInfo | None = None) -> tuple[LoopContext, MemoryRecorder,
                                                                                 FakeDesktop]:
    desktop = FakeDesktop(frames, window=window)
    recorder = MemoryRecorder()
    recorder.start(Session(task="t", kind="replay"))
    perceiver = FakePerceiver(desktop)
    ctx = LoopContext(desktop=desktop, planner=ScriptedPlanner([]), executor=Executor(desktop),
                      perceiver=perceiver, settle=perceiver.settle, recorder=recorder, settings=Settings())
    return ctx, recorder, desktop


def recorded_click() -> tuple[Click, dict[str, Image.Image]]:
    box = Box(left=100, top=100, right=181, bottom=131)
    crop = screen((100, 100)).crop((94, 94, 187, 137))
    return Click(x=140, y=115, target=Target(label="OK go", bbox=box, crop_hash="c1")), {"c1": crop}


def test_verified_click_is_relocated_and_performed_through_the_executor() -> None:
    click, crops = recorded_click()
    ctx, recorder, desktop = context([screen((150, 180))] * 20)
    result = replay_actions([click, Type(text="hi")], crops, ctx)
    assert result.status == "done" and result.exit_code == 0 and result.steps_ok == 2, result.reason
    assert desktop.calls == [("click", 190, 195, "left", 1, ()), ("type", "hi")]
    assert recorder.steps[0].actions[0].target.bbox.left == 150  # recorded where it was found


def test_a_missing_target_stops_without_acting() -> None:
    click, crops = recorded_click()
    ctx, _, desktop = context([Image.new("RGB", (640, 400), "gray")] * 40)
    result = replay_actions([click, Key(chord="Return")], crops, ctx, options=ReplayOptions(patience_s=0.2, poll_s=0.05))
    assert result.status == "failed" and result.exit_code == 1 and result.failed_step == 1
    assert "not on screen" in result.reason and "expected crops/c1.png" in result.reason
    assert [c for c in desktop.calls if c[0] != "move"] == []
    assert result.verification is not None and not result.verification.ok


def test_no_verify_acts_at_the_recorded_points() -> None:
    click, crops = recorded_click()
    ctx, _, desktop = context([Image.new("RGB", (640, 400), "gray")] * 20)
    result = replay_actions([click], crops, ctx, options=ReplayOptions(verify=False))
    assert result.status == "done" and desktop.calls == [("click", 140, 115, "left", 1, ())]


def test_typing_goes_only_to_the_recorded_application() -> None:
    item = ReplayItem(step=3, actions=(Type(text="secret plan"),), window=WindowInfo(title="work", app="XTerm"))
    ctx, _, desktop = context([screen((0, 0))] * 40, window=WindowInfo(title="Firefox", app="firefox"))

    planner = RecordedPlanner([item], {}, ReplayOptions(patience_s=0.1, poll_s=0.05))
    outcome = run_task("t", dataclasses.replace(ctx, planner=planner))
    assert outcome.status == "failed" and "step 3: the focused window is firefox" in outcome.reason
    assert not [c for c in desktop.calls if c[0] == "type"]
    ok = RecordedPlanner([item], {}, ReplayOptions())
    ctx2, _, desktop2 = context([screen((0, 0))] * 10, window=WindowInfo(title="other title", app="xterm"))
    assert run_task("t", dataclasses.replace(ctx2, planner=ok)).status == "done"
    assert desktop2.calls == [("type", "secret plan")]


def test_plan_steps_skips_what_cannot_be_verified_and_what_was_not_performed() -> None:
    from datetime import UTC, datetime

    from actions.models import ActionResult
    from agent.recording.format import Step

    now = datetime.now(UTC)
    bare = Click(x=5, y=5, target=Target(crop_hash="gone"))
    denied = Key(chord="ctrl+alt+delete")
    steps = [Step(index=1, started=now, ended=now, actions=(bare,), results=(ActionResult(action=bare, status="performed"),)),
             Step(index=2, started=now, ended=now, actions=(denied,), results=(ActionResult(action=denied, status="denied"),)),
             Step(index=3, started=now, ended=now, actions=(Type(text="{{REDACTED}}"), Key(chord="Return")),
                  results=(ActionResult(action=Type(text="{{REDACTED}}"), status="performed"),
                           ActionResult(action=Key(chord="Return"), status="performed")))]
    plan = plan_steps(steps, {})
    assert plan.skipped == ["step 1: click at (5, 5): its crop gone.png is missing and it has no label: it cannot be verified",
                            "step 3: type '{{REDACTED}}': the typed text was redacted in the recording"]
    assert [(i.step, [a.kind for a in i.actions]) for i in plan.items] == [(3, ["key"])]
    assert [i.step for i in plan_steps(steps, {}, first=3).items] == [3]
