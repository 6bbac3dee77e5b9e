"""The composition root of a live run: real desktop, guards, kill switch, perception, recorder.

`uiagent do` and `uiagent demo` call `run_agent`; tests of the loop build a `LoopContext` with
fakes instead. Exit codes follow the CLI contract.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actions.desktop.fake import DryRunDesktop
from actions.desktop.x11 import PyAutoGUIDesktop
from actions.executor import ConfirmCallback, Executor, decline_all
from actions.killswitch import KillSwitch
from agent.planners.base import Planner
from agent.recording.format import Kind, Outcome, Redactor, Session, Step
from agent.recording.writer import FolderRecorder
from agent.run.loop import LoopContext, run_task
from agent.settings import Settings

log = logging.getLogger(__name__)

EXIT_CODES = {"done": 0, "failed": 1, "stopped": 3, "error": 4}


@dataclass(frozen=True)
class RunResult:
    outcome: Outcome
    folder: Path | None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.outcome.status, 1)


def build_perceiver(desktop: Any, planner: Planner, monitor: int | None) -> Any:
    """OCR (+ accessibility when a session bus is there) only for planners that ground by elements."""
    from agent.perception.perceiver import ScreenPerceiver

    if not getattr(planner, "uses_elements", getattr(planner, "needs_elements", False)):
        return ScreenPerceiver(desktop, monitor=monitor)
    from agent.perception.a11y import A11yReader
    from agent.perception.ocr import RapidOcrEngine

    a11y = A11yReader() if os.environ.get("DBUS_SESSION_BUS_ADDRESS") else None
    return ScreenPerceiver(desktop, ocr=RapidOcrEngine(), a11y=a11y, monitor=monitor)


def run_agent(task: str, settings: Settings, display: str, planner: Planner, *,
              confirm: ConfirmCallback = decline_all, on_step: Callable[[Step], None] = lambda s: None,
              secrets: Mapping[str, str] | None = None, stop: threading.Event | None = None,
              kind: Kind = "do", cassette: Any = None) -> RunResult:
    """Run `task` on `display` with `planner`; the recording lands under settings.record_dir."""
    with live_context(task, settings, display, planner, confirm=confirm, on_step=on_step, secrets=secrets,
                      stop=stop, kind=kind, cassette=cassette) as ctx:
        outcome = run_task(task, ctx)
        return RunResult(outcome=outcome, folder=ctx.recorder.folder)


@contextmanager
def live_context(task: str, settings: Settings, display: str, planner: Planner, *,
                 confirm: ConfirmCallback = decline_all, on_step: Callable[[Step], None] = lambda s: None,
                 secrets: Mapping[str, str] | None = None, stop: threading.Event | None = None,
                 kind: Kind = "do", replay_of: str | None = None, cassette: Any = None) -> Iterator[LoopContext]:
    """The real things a run needs (desktop, kill switch, guards, perception, a started recorder),
    released on exit. `cassette` (agent.planners.cassette) is attached to the recording folder."""
    from agent.perception.settle import settle

    secrets = dict(secrets or {})
    with ExitStack() as stack:
        real = PyAutoGUIDesktop(display, failsafe=settings.failsafe)
        stack.callback(real.close)
        desktop: Any = DryRunDesktop(real) if settings.dry_run else real
        kill = stack.enter_context(KillSwitch(settings.kill_hotkey, display=display))
        recorder = FolderRecorder(settings.record_dir, Redactor(secrets))
        stack.callback(recorder.close)
        recorder.start(Session(kind=kind, task=task, planner=planner.name, model=getattr(planner, "model", ""),
                               settings=settings.model_dump(mode="json"), screen=real.geometry(),
                               replay_of=replay_of))
        if cassette is not None and recorder.folder is not None:
            cassette.attach(recorder.folder)
        yield LoopContext(desktop=desktop, planner=planner,
                          executor=Executor(desktop, settings.guards, confirm=confirm, kill=kill.event),
                          perceiver=build_perceiver(desktop, planner, settings.monitor),
                          settle=functools.partial(settle, desktop, monitor=settings.monitor),
                          recorder=recorder, settings=settings, stop=stop or threading.Event(),
                          on_step=on_step, secrets=secrets)
