"""The executor: validate -> guards -> confirmation -> ready? -> perform -> read back -> ActionResult.

There is one way to act: live agent steps, replay and cached test steps all go through
`Executor.execute`. Expected failures (a denial, a declined confirmation, an input error) come
back as values; only the kill switch and the fail-safe raise (`KillSwitchPressed`), because they
must stop everything at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from actions.delivery import Commit, InputLines, text_events, untypable
from actions.desktop.base import Desktop, ScreenGeometry, WindowInfo
from actions.errors import KillSwitchPressed, UIAgentError
from actions.guards import DEFAULT_GUARDS, Guard, GuardContext, check
from actions.models import (
    Action,
    ActionResult,
    Click,
    Done,
    Drag,
    Fail,
    Key,
    Move,
    Scroll,
    Type,
    Verdict,
    Wait,
    parse_action,
    validation_message,
)
from actions.policy import Policy
from actions.readiness import NoReadiness, Readiness
from actions.secrets import Redactor

log = logging.getLogger(__name__)

ConfirmCallback = Callable[[Action, Verdict], bool]
_TYPE_CHUNK = 16  # characters typed between two kill-switch checks
_INPUT = ("type", "key", "click")  # actions whose window the input-line tracking needs


def decline_all(action: Action, verdict: Verdict) -> bool:
    """The non-interactive confirmation callback: anything that needs a human is declined."""
    return False


class Executor:
    """Runs actions on a Desktop behind the guards. See the module docstring."""

    def __init__(self, desktop: Desktop, policy: Policy | None = None,
                 confirm: ConfirmCallback = decline_all, kill: threading.Event | None = None,
                 guards: Sequence[Guard] = DEFAULT_GUARDS, clock: Callable[[], float] = time.monotonic,
                 redactor: Redactor | None = None, readiness: Readiness | None = None) -> None:
        self.desktop = desktop
        self.readiness = readiness or NoReadiness()  # auto-wait before, read-back after (actions.readiness)
        self.policy = policy or Policy()
        self.confirm = confirm
        self.kill = kill or threading.Event()
        self.guards = tuple(guards)
        self.clock = clock
        self._recent: deque[float] = deque(maxlen=max(self.policy.max_actions, 1))
        self._screen: ScreenGeometry | None = None
        self.redactor = redactor or Redactor()
        self.lines = InputLines()                 # each window's pending input line
        self.denied: list[ActionResult] = []      # every denial of this run, for escalation

    @property
    def screen(self) -> ScreenGeometry:
        if self._screen is None:
            self._screen = self.desktop.geometry()
        return self._screen

    # -- the one entry point

    def execute(self, action: Action | dict[str, Any], injection: str | None = None,
                focused_role: str | None = None) -> ActionResult:
        """Guard and perform one action. `injection`: on-screen text that tries to instruct the
        agent; `focused_role`: the accessible role of the focused element (both from perception)."""
        started = time.time()
        t0 = self.clock()
        self.check_stop()
        if not isinstance(action, BaseModel):
            try:
                action = parse_action(action)
            except ValidationError as e:
                return ActionResult(action=None, status="invalid", error=self.redactor.text(validation_message(e)),
                                    started_at=started)
        if isinstance(action, Type) and (bad := untypable(action.text)):
            return ActionResult(action=action, status="invalid", started_at=started,
                                error=f"cannot type {bad}: the desktop types ASCII text, Tab, Return and "
                                      "BackSpace only, and would drop it; type without it")
        ctx, commit = self._context(action, injection, focused_role)
        verdict = self._masked(check(action, ctx, self.policy, self.guards))
        guard_ms = (self.clock() - t0) * 1000
        what = self.redactor.text(action.describe())
        if verdict.decision == "deny":
            log.info("denied %s: %s", what, verdict.reason)
            result = ActionResult(action=action, status="denied", verdict=verdict, started_at=started, guard_ms=guard_ms)
            self.denied.append(result)
            return result
        if verdict.decision == "confirm" and self.policy.confirm != "never" and not self.confirm(action, verdict):
            log.info("declined %s: %s", what, verdict.reason)
            return ActionResult(action=action, status="declined", verdict=verdict, started_at=started, guard_ms=guard_ms)
        t1 = self.clock()
        if blocked := self.readiness.before(action):
            return self._failed(action, verdict, blocked, started, guard_ms, t1, wait_ms=(self.clock() - t1) * 1000)
        wait_ms = (self.clock() - t1) * 1000
        self.check_stop()  # the kill switch may have fired while waiting for the target
        t1 = self.clock()
        try:
            self._perform(action)
        except KillSwitchPressed:
            raise
        except UIAgentError as e:
            self._cut_off(action, ctx.window)
            return self._failed(action, verdict, str(e), started, guard_ms, t1)
        except Exception as e:  # the X server went away, an input backend error, ...
            log.debug("action failed", exc_info=True)
            self._cut_off(action, ctx.window)
            return self._failed(action, verdict, f"{type(e).__name__}: {e}", started, guard_ms, t1)
        self._delivered(action, ctx.window, commit)
        self._recent.append(self.clock())
        act_ms = (self.clock() - t1) * 1000
        readback = self.readiness.after(action, secret=isinstance(action, Type) and bool(self.redactor.names_in(action.text)))
        note = self.redactor.text(readback.note) if readback.note else None
        if readback.ok is False:
            return self._failed(action, verdict, note or "the input did not arrive", started, guard_ms, t1,
                                wait_ms=wait_ms, verified=False)
        log.info("performed %s", what)
        return ActionResult(action=action, status="performed", verdict=verdict, started_at=started,
                            guard_ms=guard_ms, act_ms=act_ms, wait_ms=wait_ms, verified=readback.ok, verify_note=note)

    def _failed(self, action: Action, verdict: Verdict, error: str, started: float, guard_ms: float,
                t1: float, wait_ms: float = 0.0, verified: bool | None = None) -> ActionResult:
        error = self.redactor.text(error)
        log.info("failed %s: %s", self.redactor.text(action.describe()), error)
        return ActionResult(action=action, status="failed", verdict=verdict, error=error, started_at=started,
                            guard_ms=guard_ms, act_ms=(self.clock() - t1) * 1000, wait_ms=wait_ms,
                            verified=verified)

    def _masked(self, verdict: Verdict) -> Verdict:
        """A verdict's reason may quote the typed line, secret values included."""
        if not verdict.reason or not self.redactor.active:
            return verdict
        return verdict.model_copy(update={"reason": self.redactor.text(verdict.reason)})

    def _context(self, action: Action, injection: str | None,
                 focused_role: str | None) -> tuple[GuardContext, Commit | None]:
        window = WindowInfo()
        sensitive = self.policy.sensitive_windows and action.kind not in ("wait", "done", "fail", "move")
        if action.kind in _INPUT or sensitive:
            window = self.desktop.active_window()
        commit = None
        if isinstance(action, (Type, Key)):
            events = text_events(action.text) if isinstance(action, Type) else (action.keys,)
            commit = self.lines.preview(window.window_id, events)
        ctx = GuardContext(screen=self.screen, window=window, now=self.clock(), recent=tuple(self._recent),
                           injection=injection, terminal=self.policy.is_terminal(window.app),
                           lines=commit.lines if commit else (), tainted=commit.tainted if commit else (),
                           secrets=self.redactor.names_in(action.text) if isinstance(action, Type) else (),
                           focused_role=focused_role)
        return ctx, commit

    def _cut_off(self, action: Action, window: WindowInfo) -> None:
        """Typing that failed part way left an unknown part of its text in the window's line."""
        if isinstance(action, (Type, Key)):
            self.lines.taint(window.window_id, f"{action.describe()} was cut off: what arrived is not known")

    def _delivered(self, action: Action, window: WindowInfo, commit: Commit | None) -> None:
        """Keep each window's input line in step with what was sent to it."""
        if commit is not None:
            self.lines.apply(window.window_id, commit)
        elif isinstance(action, Click) and action.button == "middle":
            self.lines.taint(window.window_id, "a middle click pasted the selection")

    # -- stopping

    def check_stop(self) -> None:
        """Raise KillSwitchPressed if the kill switch fired or the pointer sits in a corner."""
        if self.kill.is_set():
            raise KillSwitchPressed("stopped by the kill switch")
        if self.policy.failsafe_corners:
            p = self.desktop.cursor()
            w, h = self.screen.width, self.screen.height
            if (p.x in (0, w - 1)) and (p.y in (0, h - 1)):
                raise KillSwitchPressed("stopped by the fail-safe: the pointer was moved into a screen corner")

    def wait(self, seconds: float) -> None:
        """Sleep that the kill switch and the fail-safe interrupt within ~50 ms."""
        deadline = self.clock() + seconds
        while (remaining := deadline - self.clock()) > 0:
            if self.kill.wait(min(remaining, 0.05)):
                break
            self.check_stop()
        self.check_stop()

    # -- dispatch (an explicit match: a model never names a method)

    def _perform(self, action: Action) -> None:
        d = self.desktop
        match action:
            case Click(x=x, y=y, button=button, count=count, modifiers=mods):
                d.click(x, y, button, count, mods)
            case Move(x=x, y=y):
                d.move(x, y)
            case Drag(path=path, button=button, modifiers=mods):
                d.drag(path, button, mods)
            case Scroll(x=x, y=y, dx=dx, dy=dy, modifiers=mods):
                d.scroll(x, y, dx, dy, mods)
            case Type(text=text):
                for i in range(0, len(text), _TYPE_CHUNK):
                    if i:
                        self.check_stop()
                    d.type_text(text[i:i + _TYPE_CHUNK])
            case Key():
                d.press(action.keys)
            case Wait(seconds=seconds):
                self.wait(seconds)
            case Done() | Fail():
                pass
