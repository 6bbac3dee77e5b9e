"""What each MCP tool does with a DesktopSession. Plain functions of (session, arguments, call) that
return a `Reply`; `agent.mcp.server` turns it into the protocol's result. They block (the desktop is
synchronous): the server runs them on a worker thread, one at a time.

Expected failures (a guard's refusal, a point outside the screenshot, a text with no match, a path
that is not a recording) are `Reply(is_error=True)` with one sentence; `UIAgentError`s raised inside
become the same at `run_tool`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from actions.errors import UIAgentError
from actions.models import (
    Action,
    Box,
    Click,
    Drag,
    Key,
    Point,
    Scroll,
    Target,
    Type,
    Wait,
    validation_message,
)
from agent.mcp.models import (
    ActingArgs,
    ClickArgs,
    DragArgs,
    FindTextArgs,
    PressKeyArgs,
    ReplayArgs,
    RunTaskArgs,
    ScreenshotArgs,
    ScrollArgs,
    ToolArgs,
    TypeTextArgs,
    WaitArgs,
)
from agent.mcp.session import IMAGE_PROFILE, DesktopSession, Shot
from agent.perception.elements import Element
from agent.perception.find import Match
from agent.perception.observation import Observation
from agent.planners.imaging import encode
from agent.recording.format import Step
from agent.run.step_builder import StepBuilder

log = logging.getLogger(__name__)

Progress = Callable[[float, float | None, str], None]


@dataclass(frozen=True)
class Image:
    b64: str
    media_type: str


@dataclass(frozen=True)
class Reply:
    """A tool's answer: text for the model, an optional image, and data for clients that read it."""

    text: str
    image: Image | None = None
    is_error: bool = False
    data: dict[str, Any] = field(default_factory=dict)


def error(text: str) -> Reply:
    return Reply(text=text, is_error=True)


# ---------------------------------------------------------------------- seeing


def screenshot(s: DesktopSession, a: ScreenshotArgs, call: str, progress: Progress) -> Reply:
    return _shot_reply(s, s.screenshot(a.elements), a.elements)


def _shot_reply(s: DesktopSession, shot: Shot, elements: bool, prefix: str = "") -> Reply:
    encoded = encode(shot.image, shot.space, IMAGE_PROFILE.image_format, IMAGE_PROFILE.image_quality)
    geometry = shot.observation.screen
    lines = [f"{prefix}screenshot {shot.space.width}x{shot.space.height} pixels (screen {geometry.width}x"
             f"{geometry.height}); x,y for click, scroll and drag are in this image's pixels"]
    window = shot.observation.window
    if window.title or window.app:
        lines.append(f"active window: {window.title!r} ({window.app})")
    listed = [_element_line(s, e) for e in shot.observation.elements] if elements else []
    if elements:
        lines.append(f"{len(listed)} elements (id role 'text' (left, top, right, bottom)):")
    text = s.redactor_text("\n".join([*lines, *listed]))
    data: dict[str, Any] = {"width": shot.space.width, "height": shot.space.height}
    if elements:
        data["elements"] = [{"id": e.id, "role": e.role, "text": e.text, "box": list(s.to_image(e.box))}
                            for e in shot.observation.elements]
    return Reply(text=text, image=Image(encoded.b64, encoded.media_type),
                 data=s.ctx.executor.redactor.data(data))


def _element_line(s: DesktopSession, e: Element) -> str:
    return f"[{e.id}] {e.role} {e.text!r} {s.to_image(e.box)}"


def find_text(s: DesktopSession, a: FindTextArgs, call: str, progress: Progress) -> Reply:
    obs = s.observe(elements=True)
    match = s.find(a.text, obs)
    rows = [{"id": c.element.id, "text": c.element.text, "role": c.element.role,
             "box": list(s.to_image(c.element.box)), "score": round(c.score, 3),
             "confidence": round(c.element.confidence, 3)} for c in match.candidates]
    if not rows:
        return Reply(text=s.redactor_text(match.reason), data={"matches": []})
    lines = [f"{c.element.text!r} {c.element.role} box {s.to_image(c.element.box)} score {c.score:.3f} "
             f"confidence {c.element.confidence:.3f}" for c in match.candidates]
    return Reply(text=s.redactor_text("\n".join([f"{len(rows)} matches, best first:", *lines])),
                 data=s.ctx.executor.redactor.data({"matches": rows}))


# ---------------------------------------------------------------------- acting


def click(s: DesktopSession, a: ClickArgs, call: str, progress: Progress) -> Reply:
    if a.text is not None:
        step, obs = s.begin(elements=True)
        match = s.find(a.text, obs)
        if not match.found or match.best is None:
            return error(s.redactor_text(f"nothing to click: {match.reason}"))
        if match.ambiguous:
            return error(s.redactor_text(_ambiguous(s, match)))
        return _perform(s, a, step, obs, _click_on(match.best, a), call)
    if a.element is not None:
        chosen = _element(s, a.element)
        if isinstance(chosen, Reply):
            return chosen
        step, obs = s.begin()
        return _perform(s, a, step, obs, _click_on(chosen, a), call)
    assert a.x is not None and a.y is not None  # ClickArgs checks one of the three is given
    x, y = s.to_screen(a.x, a.y)
    step, obs = s.begin()
    return _perform(s, a, step, obs, Click(x=x, y=y, button=a.button, count=a.count), call)


def _click_on(e: Element, a: ClickArgs) -> Click:
    c = e.box.center
    return Click(x=c.x, y=c.y, button=a.button, count=a.count,
                 target=Target(label=e.text or None, role=e.role, bbox=e.box))


def _element(s: DesktopSession, element: int) -> Element | Reply:
    shot = s.shot
    found = shot.observation.element(element) if shot is not None else None
    if found is None:
        return error(f"no element {element} in the last screenshot: take screenshot(elements=true) and "
                     "use one of its ids")
    return found


def _ambiguous(s: DesktopSession, match: Match) -> str:
    best = match.best
    assert best is not None
    listed = "; ".join(f"[{c.element.id}] {c.element.text!r} at {_center(s, c.element.box)}"
                       for c in match.candidates if abs(c.score - match.candidates[0].score) < 0.04)
    return (f"{match.query!r} matches several controls about equally ({listed}): click one by element id "
            "or by x,y")


def _center(s: DesktopSession, box: Box) -> tuple[int, int]:
    x0, y0, x1, y1 = s.to_image(box)
    return ((x0 + x1) // 2, (y0 + y1) // 2)


def type_text(s: DesktopSession, a: TypeTextArgs, call: str, progress: Progress) -> Reply:
    step, obs = s.begin()
    return _perform(s, a, step, obs, Type(text=a.text), call)


def press_key(s: DesktopSession, a: PressKeyArgs, call: str, progress: Progress) -> Reply:
    try:
        action = Key(chord=a.keys)
    except ValidationError as e:
        return error(f"keys {a.keys!r}: {validation_message(e).removeprefix('chord: ')}")
    step, obs = s.begin()
    return _perform(s, a, step, obs, action, call)


def scroll(s: DesktopSession, a: ScrollArgs, call: str, progress: Progress) -> Reply:
    x, y = s.to_screen(a.x, a.y)
    step, obs = s.begin()
    return _perform(s, a, step, obs, Scroll(x=x, y=y, dx=a.dx, dy=a.dy), call)


def drag(s: DesktopSession, a: DragArgs, call: str, progress: Progress) -> Reply:
    path = tuple(Point(x=x, y=y) for x, y in (s.to_screen(p.x, p.y) for p in a.path))
    step, obs = s.begin()
    return _perform(s, a, step, obs, Drag(path=path), call)


def wait(s: DesktopSession, a: WaitArgs, call: str, progress: Progress) -> Reply:
    step, obs = s.begin()
    return _perform(s, a, step, obs, Wait(seconds=a.seconds), call)


def _perform(s: DesktopSession, a: ActingArgs, step: StepBuilder, obs: Observation, action: Action,
             call: str) -> Reply:
    acted = s.perform(step, obs, action, call)
    result = acted.result
    extra = [n for n in acted.notes if "was not performed" not in n]
    if result.verify_note:
        extra.append(result.verify_note)
    data: dict[str, Any] = {"status": result.status, "step": acted.step, "performed": result.ok,
                            "timings_ms": {"input": round(result.act_ms, 2), "ready": round(result.wait_ms, 2),
                                           "settle": round(acted.settle_ms, 2)}}
    if not result.ok:
        why = result.error or result.verdict.reason
        return Reply(text=s.redactor_text(f"not performed ({result.status}): {why}"), is_error=True,
                     data=s.ctx.executor.redactor.data({**data, "reason": why}))
    text = s.redactor_text("; ".join([f"performed: {result.describe()}", *extra]))
    if a.screenshot_after:
        return _shot_reply(s, s.screenshot(False), False, prefix=f"{text}\n")
    return Reply(text=text, data=data)


# ---------------------------------------------------------------------- whole runs


def run_task(s: DesktopSession, a: RunTaskArgs, call: str, progress: Progress) -> Reply:
    from agent.planners.registry import build_planner
    from agent.run.wiring import run_agent

    settings = s.settings.model_copy(update={k: v for k, v in (("model", a.model), ("max_steps", a.max_steps))
                                             if v is not None})
    planner = build_planner(settings)
    planner.prepare(a.task)  # an instruction the offline planner cannot parse fails here
    total = float(settings.max_steps)

    def on_step(step: Step) -> None:
        progress(step.index, total, s.redactor_text(f"step {step.index}: " + "; ".join(
            x.describe() for x in step.actions) or step.reasoning))

    s.frame = None  # the run moves the screen: the next action grabs a fresh frame
    result = run_agent(a.task, settings, s.display, planner, confirm=s.confirmer, on_step=on_step,
                       secrets=s.ctx.secrets, kind="do")
    outcome = result.outcome
    text = (f"{outcome.status}: {outcome.reason} ({outcome.steps} steps); recording: {result.folder}")
    return Reply(text=s.redactor_text(text), is_error=outcome.status != "done",
                 data={"status": outcome.status, "reason": outcome.reason, "steps": outcome.steps,
                       "recording": str(result.folder) if result.folder else None})


def replay(s: DesktopSession, a: ReplayArgs, call: str, progress: Progress) -> Reply:
    from agent.recording.format import load_recording
    from agent.replay.playback import replay_recording
    from agent.replay.recorded import ReplayOptions

    loaded = load_recording(Path(a.recording))  # not a recording: a UsageError, one sentence
    if not loaded.steps:
        return error(f"nothing to replay: {a.recording} has no recorded steps")
    done: list[str] = []

    def on_step(step: Step) -> None:
        done.append(step.reasoning)
        progress(len(done), float(len(loaded.steps)), step.reasoning)

    s.frame = None
    settings = s.settings.model_copy(update={"dry_run": a.dry_run})
    result = replay_recording(loaded, display=s.display, settings=settings, options=ReplayOptions(),
                              confirm=s.confirmer, on_step=on_step)
    lines = [f"{result.status}: {result.reason} ({result.steps_ok} of {len(loaded.steps)} steps replayed); "
             f"recording: {result.folder}", *done, *(f"skipped: {x}" for x in result.skipped)]
    return Reply(text=s.redactor_text("\n".join(lines)), is_error=result.status != "done",
                 data={"status": result.status, "steps_ok": result.steps_ok, "failed_step": result.failed_step,
                       "done": done, "skipped": result.skipped,
                       "recording": str(result.folder) if result.folder else None})


Handler = Callable[[DesktopSession, Any, str, Progress], Reply]
HANDLERS: dict[str, Handler] = {
    "screenshot": screenshot, "click": click, "type_text": type_text, "press_key": press_key, "scroll": scroll,
    "drag": drag, "wait": wait, "find_text": find_text, "run_task": run_task, "replay": replay,
}


def run_tool(s: DesktopSession, name: str, args: ToolArgs, call: str, progress: Progress) -> Reply:
    """One tool call; an expected error is one sentence, an unexpected one names its type."""
    try:
        return HANDLERS[name](s, args, call, progress)
    except UIAgentError as e:
        return error(s.redactor_text(_first_line(e)))
    except ValidationError as e:  # an action built of the arguments did not validate
        return error(s.redactor_text(validation_message(e)))
    except Exception as e:  # a bug: the server goes on serving
        log.debug("tool %s failed", name, exc_info=True)
        return error(s.redactor_text(f"internal error in {name}: {type(e).__name__}: {_first_line(e)}"))


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
