"""`UI`: what a regression test drives, bound to one display (the pytest plugin's `ui` fixture).

    ui.launch("python3 form.py")          # start an app, wait for its window
    ui.do("type 'Alice', click Submit")   # planner (model or offline); cached, replayed next time
    ui.click("Submit"); ui.type("hi"); ui.press("ctrl+s")      # deterministic, no model
    ui.wait_for("Saved", timeout=5); ui.assert_visible("42"); ui.assert_not_visible("Error")
    ui.check("the total is 42")           # model yes/no, cross-checked by OCR
    ui.query(Invoice)                     # model extraction into a pydantic model, OCR-checked

Every call is one numbered step; a failure raises `UIStepFailed` naming it. Actions of every kind
(live, scripted, cached) go through the same executor and guards, and land in one recording.
Cache hits go through `agent.replay.cached.replay_cached`: no model call. The concrete parts are
chosen by the caller (`agent.testing.plugin`): this class only talks to protocols.
"""

from __future__ import annotations

import builtins
import logging
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

from pydantic import BaseModel

from actions.desktop.base import Desktop
from actions.errors import UIAgentError
from actions.executor import Executor
from actions.models import Box, Done, Key, Type
from agent.perception.find import Relation, Selector, ordinal, text_visible
from agent.perception.observation import Observation
from agent.perception.perceiver import Perceiver
from agent.planners.base import Planner
from agent.planners.scripted import ScriptedPlanner
from agent.recording.format import Outcome
from agent.replay.cached import replay_cached
from agent.run.loop import LoopContext, Settler, run_task
from agent.settings import Settings
from agent.testing.step_cache import CacheEntry, CacheFile, actions_worth_caching, normalise, screen_print
from agent.testing.ui_recorder import UIRecorder

if TYPE_CHECKING:
    from agent.display import WindowGeometry
    from agent.perception.numbers import NumberChecker
    from agent.perception.reaction import Reactions
    from agent.testing.judge import Judge

log = logging.getLogger(__name__)

CacheMode = Literal["off", "read", "write", "heal"]
M = TypeVar("M", bound=BaseModel)


class UIStepFailed(AssertionError):
    """A `ui.*` step failed; the message names the step (`step N ui.do('...')`) and why."""


@dataclass(repr=False)
class UIParts:
    """Everything a UI needs, built by the entry point (the pytest plugin)."""

    display: str
    env: dict[str, str]
    desktop: Desktop
    executor: Executor
    perceiver: Perceiver
    settle: Settler
    recorder: UIRecorder
    settings: Settings
    planner_factory: Callable[[], Planner]
    judge_factory: Callable[[], Judge] | None = None    # None: no model configured
    cache: CacheFile | None = None
    cache_mode: CacheMode = "off"
    window_box: Callable[[int], Box | None] = lambda window_id: None
    offline_factory: Callable[[], Planner] | None = None
    reactions: Reactions | None = None  # what actions should make the app do (None: no reaction waits)
    numbers: NumberChecker | None = None  # numbers the model reads are confirmed by zoomed OCR


@dataclass
class StepLog:
    number: int
    call: str
    status: str = "running"     # running | passed | failed | cached
    detail: str = ""


@dataclass(repr=False)
class UI:
    """The test-facing API (see the module docstring)."""

    def __repr__(self) -> str:  # short, and never the environment (it may hold keys)
        return f"<UI display {self.parts.display}, {len(self.steps)} steps, cache {self.parts.cache_mode}>"

    parts: UIParts
    steps: list[StepLog] = field(default_factory=list)
    model_calls: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    _occurrences: Counter[str] = field(default_factory=Counter)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _judge_instance: Judge | None = None

    # ------------------------------------------------------------------ apps

    def launch(self, cmd: Sequence[str] | str, timeout: float = 10.0) -> WindowGeometry:
        """Start `cmd` on this display and wait for its window; returns its WindowGeometry."""
        __tracebackhide__ = True
        from agent.display import launch, launch_app

        step = self._begin(f"ui.launch({cmd!r})")

        def launcher(argv: Sequence[str]) -> subprocess.Popen[bytes]:
            proc = launch(argv, self.parts.env)
            self._procs.append(proc)
            return proc

        try:
            window = launch_app(cmd, self.parts.display, self.parts.env, timeout=timeout, launcher=launcher)
        except UIAgentError as e:
            self._fail(step, str(e).removeprefix("--launch "))
        self._pass(step, f"window {window.window.app!r} {window.width}x{window.height}")
        return window

    def failed_step(self) -> StepLog | None:
        return next((s for s in reversed(self.steps) if s.status == "failed"), None)

    # ------------------------------------------------------------------ acting

    def do(self, instruction: str) -> None:
        """Do `instruction` with the planner; from the step cache when it has a matching entry."""
        __tracebackhide__ = True
        step = self._begin(f"ui.do({instruction!r})")
        key = normalise(instruction)
        occurrence = self._occurrences[key]
        self._occurrences[key] += 1
        cache, mode = self.parts.cache, self.parts.cache_mode
        if cache is None or mode == "off":
            self._live_do(step, instruction, None, None)
            return
        shot = self.parts.desktop.capture(self.parts.settings.monitor)
        window = self.parts.desktop.active_window()
        screen = screen_print(shot.image, _shift(self.parts.window_box(window.window_id), shot.left, shot.top))
        entry = cache.lookup(instruction, occurrence, window.app, screen)
        if entry is not None:
            crops = {h: img for h in entry.crops() if (img := cache.crop(h)) is not None}
            replay = replay_cached(entry.actions, crops, self._context(ScriptedPlanner([])))
            if replay.ok:
                self.cache_hits += 1
                step.status = "cached"
                return
            if mode == "read":
                self._fail(step, f"the cached actions no longer fit the screen: {replay.reason} (cache "
                                 f"{cache.path}); update it with --uiagent-cache=heal")
            log.info("cache entry failed verification (%s): asking the model", replay.reason)
        elif mode == "read":
            self.cache_misses += 1
            self._fail(step, f"not in the step cache {cache.path} (occurrence {occurrence + 1}, app "
                             f"{window.app or '?'!r}, window {screen.window or 'none'}, layout {screen.layout}); "
                             "record it with --uiagent-cache=write (or heal)")
        self.cache_misses += 1
        new = self._live_do(step, instruction, (occurrence, window.app, screen), entry)
        if new is not None:
            cache.put(new, replacing=entry)

    def _live_do(self, step: StepLog, instruction: str, key: tuple[int, str, Any] | None,
                 replacing: CacheEntry | None) -> CacheEntry | None:
        __tracebackhide__ = True
        try:
            planner = self.parts.planner_factory()
            planner.prepare(instruction)  # an unparseable offline instruction fails before acting
        except UIAgentError as e:
            self._fail(step, str(e))
        first = len(self.parts.recorder.steps)
        self._run(step, instruction, planner)
        if key is None:
            return None
        performed = [r.action for s in self.parts.recorder.steps[first:] for r in s.results if r.ok and r.action]
        occurrence, app, screen = key
        return CacheEntry(instruction=normalise(instruction), occurrence=occurrence, app=app, screen=screen,
                          model=f"{planner.name}:{planner.model}",
                          actions=actions_worth_caching(performed))

    def click(self, label: str, *, nth: int | None = None, widget: bool = False,
              relation: Relation | None = None, anchor: str | None = None) -> None:
        """Click the element whose text reads `label` (OCR/accessibility; no model), widgets before
        text as the offline planner grounds; say which of several with `nth` (1-based, -1 the
        last, in reading order), `widget=True` (buttons only) or `relation` ("below", "near", ...)
        of the element reading `anchor`: `ui.click("5", relation="below", anchor="8")`."""
        __tracebackhide__ = True
        chosen = Selector(interactive=widget, nth=nth, relation=relation, anchor=anchor)
        step = self._begin(f"ui.click({', '.join([repr(label), *(f'{k}={v!r}' for k, v in _kwargs(chosen))])})")
        self._run(step, click_step(label, chosen), self._offline())

    def type(self, text: str) -> None:
        """Type `text` into the focused window (\\n presses Enter)."""
        __tracebackhide__ = True
        step = self._begin(f"ui.type({text!r})")
        self._run(step, f"type {text!r}", ScriptedPlanner([[Type(text=text), Done()]]))

    def press(self, chord: str) -> None:
        """Press a key chord such as ctrl+s or Return."""
        __tracebackhide__ = True
        step = self._begin(f"ui.press({chord!r})")
        try:
            key = Key(chord=chord)
        except ValueError as e:
            self._fail(step, f"bad key chord {chord!r}: {e}")
        self._run(step, f"press {chord}", ScriptedPlanner([[key, Done()]]))

    # ------------------------------------------------------------------ seeing (never cached)

    def wait_for(self, text: str, timeout: float = 10.0) -> None:
        """Wait until `text` is on screen (OCR/accessibility), at most `timeout` seconds."""
        __tracebackhide__ = True
        step = self._begin(f"ui.wait_for({text!r}, timeout={timeout:g})")
        deadline = time.monotonic() + timeout
        while True:
            obs = self._observe()
            if text_visible(obs.elements, text):
                self._pass(step)
                return
            if time.monotonic() >= deadline:
                self._fail(step, f"{text!r} did not appear within {timeout:g}s; visible: {_visible(obs)}")
            time.sleep(0.1)

    def assert_visible(self, text: str) -> None:
        """Fail unless `text` is on screen now (OCR/accessibility; deterministic, no model)."""
        __tracebackhide__ = True
        step = self._begin(f"ui.assert_visible({text!r})")
        obs = self._observe()
        if not text_visible(obs.elements, text):
            self._fail(step, f"{text!r} is not on screen; visible: {_visible(obs)}")
        self._pass(step)

    def assert_not_visible(self, text: str) -> None:
        """Fail if `text` is on screen now."""
        __tracebackhide__ = True
        step = self._begin(f"ui.assert_not_visible({text!r})")
        obs = self._observe()
        if text_visible(obs.elements, text):
            self._fail(step, f"{text!r} is on screen; visible: {_visible(obs)}")
        self._pass(step)

    def check(self, claim: str) -> None:
        """Ask the model whether `claim` holds on the screen; numbers and quoted text in its answer
        must also be read by OCR. Needs --uiagent-model."""
        __tracebackhide__ = True
        from agent.testing.judge import check_claim

        step = self._begin(f"ui.check({claim!r})")
        judge = self._judge(step)
        try:
            verdict = check_claim(judge, claim, self._observe(), self.parts.numbers)
        except UIAgentError as e:
            self._fail(step, str(e))
        self.model_calls += verdict.usage.model_calls
        if not verdict.passed:
            self._fail(step, verdict.reason)
        self._pass(step, verdict.reason)

    def query(self, model: builtins.type[M]) -> M:
        """Extract `model` (a pydantic model) from the screen with the model; every text and number
        value must also be read by OCR. Needs --uiagent-model."""
        __tracebackhide__ = True
        from agent.testing.judge import query_model

        step = self._begin(f"ui.query({model.__name__})")
        judge = self._judge(step)
        try:
            value, usage = query_model(judge, model, self._observe(), self.parts.numbers)
        except UIAgentError as e:
            self._fail(step, str(e))
        self.model_calls += usage.model_calls
        self._pass(step, repr(value))
        return value

    # ------------------------------------------------------------------ internals

    def _begin(self, call: str) -> StepLog:
        step = StepLog(number=len(self.steps) + 1, call=call)
        self.steps.append(step)
        self.parts.recorder.label = f"ui step {step.number}: {call}"
        log.info("step %d %s", step.number, call)
        return step

    def _pass(self, step: StepLog, detail: str = "") -> None:
        step.status, step.detail = "passed", detail

    def _fail(self, step: StepLog, why: str) -> NoReturn:
        __tracebackhide__ = True
        step.status, step.detail = "failed", why
        raise UIStepFailed(f"step {step.number} {step.call}: {why}") from None

    def _context(self, planner: Planner) -> LoopContext:
        p = self.parts
        return LoopContext(desktop=p.desktop, planner=planner, executor=p.executor, perceiver=p.perceiver,
                           settle=p.settle, recorder=p.recorder, settings=p.settings, stop=threading.Event(),
                           reactions=p.reactions, numbers=p.numbers if planner.capabilities.model_calls else None)

    def _run(self, step: StepLog, task: str, planner: Planner) -> Outcome:
        __tracebackhide__ = True
        outcome = run_task(task, self._context(planner))
        self.model_calls += outcome.model_calls
        if outcome.status != "done":
            self._fail(step, f"{outcome.status}: {outcome.reason}")
        self._pass(step)
        return outcome

    def _offline(self) -> Planner:
        factory = self.parts.offline_factory
        if factory is None:
            from agent.planners.offline.planner import OfflinePlanner
            return OfflinePlanner()
        return factory()

    def _observe(self) -> Observation:
        shot = self.parts.settle(self.parts.desktop.capture(self.parts.settings.monitor)).screenshot
        return self.parts.perceiver.observe(shot, elements=True)

    def _judge(self, step: StepLog) -> Judge:
        __tracebackhide__ = True
        judge = None
        if self.parts.judge_factory is not None:
            if self._judge_instance is None:
                try:
                    self._judge_instance = self.parts.judge_factory()
                except UIAgentError as e:
                    self._fail(step, str(e))
            judge = self._judge_instance
        if judge is None:
            self._fail(step, "needs a model: run pytest with --uiagent-model PROVIDER:MODEL (for checks "
                             "without a model use ui.assert_visible / ui.assert_not_visible)")
        return judge

    def close(self) -> None:
        """Stop the apps this UI launched (the display may outlive the test)."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=3)
                except (ProcessLookupError, PermissionError):
                    pass
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=3)
        self._procs.clear()


def click_step(label: str, chosen: Selector) -> str:
    """The offline planner's step for `ui.click`: the label quoted (taken whole), the choice in
    the instruction language around it ("click the 2nd button '7' below 'Total'")."""
    def quoted(text: str) -> str:
        return f'"{text}"' if "'" in text else f"'{text}'"
    nth = f"the {ordinal(chosen.nth)} " if chosen.nth else ""
    kind = ("" if nth else "the ") + "button " if chosen.interactive else ""
    where = f" {'in the' if chosen.relation == 'in' else chosen.relation} {quoted(chosen.anchor)}" \
        if chosen.relation and chosen.anchor else ""
    return f"click {nth}{kind}{quoted(label)}{where}"


def _kwargs(chosen: Selector) -> list[tuple[str, object]]:
    names = {"interactive": "widget"}
    return [(names.get(k, k), v) for k, v in chosen.kwargs().items()]


def _visible(obs: Observation, limit: int = 15) -> str:
    shown = ", ".join(repr(e.text) for e in obs.elements[:limit])
    more = f" and {len(obs.elements) - limit} more" if len(obs.elements) > limit else ""
    return (shown + more) if shown else "no text at all"


def _shift(box: Box | None, left: int, top: int) -> Box | None:
    """A screen-space box in the coordinates of a screenshot whose origin is (left, top)."""
    if box is None:
        return None
    return Box(left=box.left - left, top=box.top - top, right=box.right - left, bottom=box.bottom - top)
