"""The agent loop: observe -> plan -> for each action: guard -> act -> await the reaction -> record.

`run_task` reads like the product sentence; everything it uses arrives in a `LoopContext`, so
tests pass fakes and the CLI passes the real things. It stops on done, fail, max steps, timeout,
budget, the kill switch, a stop request (SIGINT/SIGTERM: the current action finishes first) or a
stuck run, and always leaves a finished recording behind. After an action that should change the
screen, `settle` waits for the app's reaction (up to the action's deadline, `agent.perception.reaction`)
and then for stillness, so the next observation is never from before a reaction that came in time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from actions.desktop.base import Desktop, Screenshot
from actions.errors import BudgetExceeded, ProviderError, Stopped, UIAgentError
from actions.executor import Executor
from actions.models import Action, ActionResult, Done, Fail, Type, Wait
from agent.deadline import Deadline
from agent.perception.masking import SecretMasker
from agent.perception.numbers import numbers_in
from agent.perception.observation import Observation
from agent.perception.perceiver import Perceiver
from agent.perception.reaction import Expectation, Reactions, boxes_from
from agent.perception.settle import SettleResult
from agent.planners.base import HistoryItem, Planner, Turn, Usage
from agent.recording.format import Outcome, Step
from agent.recording.writer import Recorder
from agent.run.endings import ThreadFaults, ending, internal
from agent.run.step_builder import StepBuilder
from agent.run.stuck import StuckDetector
from agent.settings import Settings

if TYPE_CHECKING:
    from agent.perception.numbers import NumberChecker

log = logging.getLogger(__name__)

MIN_WAIT_S = 0.01  # a wait the deadline leaves less than this of is not begun


class Settler(Protocol):
    """Waits after an action: for the reaction `expect` describes (if any), then for stillness."""

    def __call__(self, before: Screenshot, expect: Expectation | None = None) -> SettleResult: ...


@dataclass
class LoopContext:
    desktop: Desktop
    planner: Planner
    executor: Executor
    perceiver: Perceiver
    settle: Settler
    recorder: Recorder
    settings: Settings
    stop: threading.Event = field(default_factory=threading.Event)   # finish the action, then stop
    on_step: Callable[[Step], None] = lambda step: None
    secrets: Mapping[str, str] = field(default_factory=dict)
    masker: SecretMasker | None = None  # blacks out secrets on screen once one was typed
    clock: Callable[[], float] = time.monotonic
    reactions: Reactions | None = None  # None: no reaction waits (dry run, replay, tests)
    deadline: Deadline | None = None  # --timeout, shared with the planner; None: settings.timeout from the start
    display: str | None = None  # the X display driven: a failure there is `display :N closed`
    faults: ThreadFaults | None = None  # library threads' exceptions, ending the run between steps
    on_end: Callable[[Outcome], None] = lambda outcome: None  # the outcome is recorded: teardown begins
    numbers: NumberChecker | None = None  # numbers in a `done` summary are confirmed by zoomed OCR


def run_task(task: str, ctx: LoopContext) -> Outcome:
    """Run `task` to an Outcome; the recording is finished whatever happens."""
    started = ctx.clock()
    deadline = (ctx.deadline or Deadline(ctx.settings.timeout, clock=ctx.clock)).start()
    usage = Usage()
    failed_calls = 0  # model requests of a turn that ended in an error (its Usage never arrived)
    history: list[HistoryItem] = []
    stuck = StuckDetector()
    last_frame: Screenshot | None = None  # the settled frame of the last action: no need to grab again
    mask: SecretMasker | None = None  # once a secret was typed: frames are masked where it shows
    # Reads the screen's text for on-screen injection while the model thinks (see StepBuilder.scan).
    scanner = ThreadPoolExecutor(1, thread_name_prefix="scan") if ctx.settings.guards.scan_screen_text else None
    outcome = Outcome(status="failed", reason=f"gave up after {ctx.settings.max_steps} steps (--max-steps)")
    bug: BaseException | None = None
    try:
        for index in range(1, ctx.settings.max_steps + 1):
            if ctx.faults is not None and (failed := ctx.faults.check(ctx.display)) is not None:
                outcome = failed
                break
            _check_limits(ctx, deadline, usage)
            step = StepBuilder(index, ctx.recorder, ctx.clock, mask=mask)
            observation = step.observe(ctx.perceiver, last_frame, ctx.planner.needs_elements)
            if scanner is not None:
                observation = step.scan(ctx.perceiver, observation, scanner)
            turn = step.plan(ctx.planner, task, observation, history)
            step.scanned()  # the screen's text is judged before any action of this step
            usage += turn.usage
            told = any(isinstance(a, Done) for h in history for a in h.actions)  # a done sent back before
            results, notes, finished = act_turn(ctx, step, turn, observation, stuck, told, deadline)
            mask = step.mask
            last_frame = step.last_frame
            record = step.finish(turn, results, notes)
            ctx.recorder.append(record)
            ctx.on_step(record)
            history.append(HistoryItem(step=index, reasoning=turn.reasoning, actions=turn.actions,
                                       results=tuple(results), notes=(*step.scan_notes, *notes),
                                       reactions=tuple(step.reactions)))
            if finished is not None:
                outcome = finished
                break
        else:
            outcome = Outcome(status="stopped", reason=f"reached --max-steps {ctx.settings.max_steps}")
    except UIAgentError as e:  # a budget, a provider, a task that failed, the display or the disk failing
        outcome = _ending(e, ctx.display)
        failed_calls = e.model_calls
    except (Exception, KeyboardInterrupt) as e:  # the display went away, the disk filled up, a 2nd interrupt
        known = ending(e, ctx.display)
        outcome, bug = (known, None) if known is not None else (internal(e), e)
    finally:
        outcome = outcome.model_copy(update={
            "steps": len(history), "model_calls": usage.model_calls + failed_calls,
            "cost_usd": round(usage.cost_usd, 6),
            "tokens": usage.input_tokens + usage.output_tokens, "denials": len(ctx.executor.denied),
            "duration_s": round(ctx.clock() - started, 3)})
        try:
            ctx.recorder.finish(outcome)
        finally:
            ctx.on_end(outcome)
            if scanner is not None:
                scanner.shutdown(wait=True, cancel_futures=True)
    if bug is not None:
        raise bug
    return outcome


def _ending(error: UIAgentError, display: str | None) -> Outcome:
    if isinstance(error, Stopped):
        return Outcome(status="stopped", reason=str(error))
    if isinstance(error, ProviderError):
        return Outcome(status="error", reason=str(error))
    return ending(error, display) or Outcome(status="failed", reason=str(error))


def _check_limits(ctx: LoopContext, deadline: Deadline, usage: Usage) -> None:
    if ctx.stop.is_set():
        raise Stopped("stopped by the user (interrupt)")
    if deadline.expired():
        raise BudgetExceeded(f"timed out after {deadline.describe()}")
    if ctx.settings.max_cost is not None and usage.cost_usd >= ctx.settings.max_cost:
        raise BudgetExceeded(f"spent ${usage.cost_usd:.4f} of --max-cost ${ctx.settings.max_cost:g}")


def act_turn(ctx: LoopContext, step: StepBuilder, turn: Turn, observation: Observation, stuck: StuckDetector,
             told: bool = False, deadline: Deadline | None = None) -> tuple[list[ActionResult], list[str],
                                                                            Outcome | None]:
    """Perform the turn's actions in order; stop at the first that did not go through. A wait the
    run's deadline cannot hold is cut to what remains (the next step then ends the run)."""
    results: list[ActionResult] = []
    notes: list[str] = []
    before = observation.screenshot
    for action in turn.actions:
        if isinstance(action, Done):
            return results, notes, _done(ctx, action, observation, notes, told, before if results else None)
        if isinstance(action, Fail):
            return results, notes, Outcome(status="failed", reason=action.reason)
        if results and ctx.stop.is_set():
            break
        if isinstance(action, Wait) and deadline is not None and deadline.limits(action.seconds):
            left = deadline.remaining()
            if left < MIN_WAIT_S:
                break
            notes.append(f"{action.describe()} was cut to {left:.1f}s: {deadline.describe()} ends the run then")
            action = action.model_copy(update={"seconds": left})
        expanded = _expand_secrets(action, ctx.secrets)
        expect = _expect(ctx, expanded, before, observation)
        before = expect.before if expect is not None else before
        result = step.act(ctx.executor, expanded, action, latest=before)
        results.append(result)
        if result.ok and expanded is not action and ctx.masker is not None:
            step.mask = ctx.masker  # this action's frame after may show it already
        if not result.ok:
            notes.append(f"{action.describe()} was not performed: {result.status}: "
                         f"{result.error or result.verdict.reason}")
            if result.status == "denied" and (escalated := _escalation(ctx.executor)):
                return results, notes, escalated
            break
        settled = step.settle(ctx.settle, before, expect)
        before = step.raw_frame or settled.screenshot
        if (note := _no_change(action, settled)) is not None:
            notes.append(note)
        if action.kind == "wait":
            continue  # waiting on purpose is not being stuck
        verdict = stuck.verdict(stuck.record(action, settled.did_change, settled.fingerprint))
        if verdict == "warn":
            notes.append("you seem stuck: the last actions had no effect; try something different")
        elif verdict == "give_up":
            return results, notes, Outcome(status="failed", reason="gave up: the run is stuck")
    return results, notes, None


def _done(ctx: LoopContext, done: Done, observation: Observation, notes: list[str], told: bool,
          latest: Screenshot | None = None) -> Outcome | None:
    """The run's end, unless a number the summary states is not what a zoomed OCR of its region
    reads (on `latest`, the frame after this turn's earlier actions, if any): then the step notes
    why and the model gets one more turn (None); a done after that ends the run with the
    mismatch in its reason."""
    summary = done.summary or "done"
    if ctx.numbers is None or not numbers_in(done.summary):
        return Outcome(status="done", reason=summary)
    if latest is not None or not observation.elements:  # after actions, or for a planner of pixels only
        observation = ctx.perceiver.observe(latest or observation.screenshot, elements=True)
    checks = ctx.numbers.check(done.summary, observation)
    notes.extend(c.note for c in checks)
    wrong = [c for c in checks if not c.confirmed]
    if not wrong:
        return Outcome(status="done", reason=summary)
    if not told:
        return None
    return Outcome(status="done", reason=f"{summary} (not confirmed on screen: {'; '.join(c.note for c in wrong)})")


def _expect(ctx: LoopContext, action: Action, before: Screenshot, observation: Observation) -> Expectation | None:
    """What `action` should make the app do (looked at just before performing it)."""
    if ctx.reactions is None:
        return None

    def interrupt() -> bool:
        ctx.executor.check_stop()  # the kill switch and the fail-safe raise
        return ctx.stop.is_set()
    return ctx.reactions.expect(action, ctx.desktop, before, app=observation.window.app,
                                boxes_under=boxes_from(observation.elements), monitor=ctx.settings.monitor,
                                interrupt=interrupt)


def _no_change(action: Action, settled: SettleResult) -> str | None:
    """The note for the planner when nothing happened: only once the reaction's deadline passed."""
    reaction = settled.reaction
    if reaction is not None and reaction.deadline_s > 0:
        if not reaction.missing:
            return None
        return f"the screen did not change within {reaction.deadline_s:g} s after: {action.describe()}"
    if settled.did_change or action.kind in ("wait", "move"):
        return None
    return f"the screen did not change after: {action.describe()}"


def _escalation(executor: Executor) -> Outcome | None:
    """After `max_denials` denied actions the run stops: a model that keeps trying is not to be trusted."""
    denied = executor.denied
    if len(denied) < executor.policy.max_denials:
        return None
    # The executor saw the action with secrets expanded: describe it masked (the reasons already are).
    listed = "; ".join(f"{executor.redactor.text(r.action.describe()) if r.action else '?'} ({r.verdict.reason})"
                       for r in denied)
    return Outcome(status="stopped", reason=f"stopped after {len(denied)} denied actions: {listed}")


def _expand_secrets(action: Action, secrets: Mapping[str, str]) -> Action:
    """`{{NAME}}` in typed text becomes the secret's value, only on the way to the executor."""
    if not secrets or not isinstance(action, Type) or "{{" not in action.text:
        return action
    text = action.text
    for name, value in secrets.items():
        text = text.replace("{{" + name + "}}", value)
    return action.model_copy(update={"text": text})
