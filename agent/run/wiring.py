"""The composition root: the one place that builds the real parts of a run.

    with wire(settings, display, planner.capabilities) as parts:      # desktop, kill switch, executor
        ...                                                         # and guards, perceiver, settle, recorder
    result = run_agent(task, settings, display, planner)             # `uiagent do`, `uiagent demo`
    with live_context(task, settings, display, planner) as ctx: ...  # `uiagent replay`

`wire` is used by `do`, `demo` and `replay` (through `live_context`) and by the pytest plugin (with its
per-test recorder and shared OCR engine); `ocr_engine` and `a11y_reader` also build the labeller of
`uiagent record`, `planner_factory` the plugin's planners. No entry point builds its own.
Tests of the loop build a `LoopContext` with fakes instead. Exit codes follow the CLI contract.
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
from typing import TYPE_CHECKING

from actions.desktop.base import Desktop
from actions.desktop.fake import DryRunDesktop
from actions.desktop.x11 import PyAutoGUIDesktop
from actions.executor import ConfirmCallback, Executor, decline_all
from actions.killswitch import KillSwitch
from actions.readiness import NoReadiness, Readiness
from actions.secrets import Redactor, redact_logs
from agent import status
from agent.deadline import Deadline
from agent.perception.perceiver import Perceiver, ScreenPerceiver
from agent.perception.reaction import Reactions, X11Windows
from agent.planners.base import Capabilities, Planner
from agent.planners.registry import build_planner, is_offline
from agent.recording.format import Kind, Outcome, Session, Step
from agent.recording.writer import FolderRecorder, Recorder
from agent.run.endings import ThreadFaults
from agent.run.loop import LoopContext, Settler, run_task
from agent.settings import Settings

if TYPE_CHECKING:
    from agent.perception.a11y import A11yReader
    from agent.perception.masking import SecretMasker
    from agent.perception.numbers import NumberChecker
    from agent.perception.ocr import OcrEngine
    from agent.planners.cassette import Cassette

log = logging.getLogger(__name__)

EXIT_CODES = {"done": 0, "failed": 1, "stopped": 3, "error": 4}
SESSION_BUS = "session"  # `a11y_bus` default: $DBUS_SESSION_BUS_ADDRESS when set, else no accessibility


@dataclass(frozen=True)
class RunResult:
    outcome: Outcome
    folder: Path | None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.outcome.status, 1)


@dataclass(frozen=True)
class Parts:
    """The real parts of a run on one display, released when `wire` exits."""

    desktop: Desktop            # a DryRunDesktop around `real` under --dry-run
    real: PyAutoGUIDesktop
    kill: threading.Event       # set by the kill-switch hotkey (or never, without one)
    executor: Executor
    perceiver: Perceiver
    settle: Settler
    recorder: Recorder
    reactions: Reactions | None  # what actions should make the app do; None under --dry-run


@contextmanager
def wire(settings: Settings, display: str, capabilities: Capabilities, *, recorder: Recorder | None = None,
         secrets: Mapping[str, str] | None = None, confirm: ConfirmCallback = decline_all,
         kill_hotkey: bool = True, ocr: OcrEngine | None = None, a11y_bus: str | None = SESSION_BUS
         ) -> Iterator[Parts]:
    """Build desktop, kill switch, executor and guards, perceiver, settle and recorder for `display`.

    `recorder` None: a FolderRecorder under settings.record_dir (closed on exit; not started: the
    caller knows the Session). `kill_hotkey` False: no global hotkey listener (the pytest plugin).
    `ocr`: an engine to share (else one is made when the planner grounds by elements).
    """
    from agent.perception.settle import settle

    with ExitStack() as stack:
        real = PyAutoGUIDesktop(display, failsafe=settings.failsafe, pacing=settings.input)
        stack.callback(real.close)
        desktop: Desktop = DryRunDesktop(real) if settings.dry_run else real
        kill = stack.enter_context(KillSwitch(settings.kill_hotkey, display=display)).event if kill_hotkey \
            else threading.Event()
        redactor = Redactor(dict(secrets or {}))
        stack.enter_context(redact_logs(redactor))
        if recorder is None:
            recorder = FolderRecorder(settings.record_dir, redactor)
            stack.callback(recorder.close)
        windows = X11Windows(display)
        stack.callback(windows.close)
        # Nothing is performed in a dry run: no reaction to wait for.
        reactions = None if settings.dry_run else Reactions(settings.reaction, windows)
        scan = settings.guards.scan_screen_text
        if ocr is None and (capabilities.elements or scan):
            ocr = ocr_engine()  # shared by perception and the read-back of typed text
        yield Parts(desktop=desktop, real=real, kill=kill,
                    executor=Executor(desktop, settings.guards, confirm=confirm, kill=kill, redactor=redactor,
                                      readiness=readiness(settings, real, a11y_bus, ocr=ocr)),
                    perceiver=build_perceiver(desktop, capabilities, settings.monitor, ocr=ocr, a11y_bus=a11y_bus,
                                              scan=scan),
                    settle=functools.partial(settle, desktop, monitor=settings.monitor, windows=windows),
                    recorder=recorder, reactions=reactions)


def readiness(settings: Settings, desktop: Desktop, a11y_bus: str | None = SESSION_BUS,
              ocr: OcrEngine | None = None) -> Readiness:
    """Auto-wait and read-back (agent.perception.actionability), with accessibility when there is a bus
    and OCR of what changed when accessibility cannot tell; none under --dry-run (nothing is
    performed, so nothing would ever become ready or arrive)."""
    from agent.perception.actionability import Actionability
    from agent.perception.atspi_focus import FocusProbe

    if settings.dry_run or not settings.input.check:
        return NoReadiness()
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS") if a11y_bus == SESSION_BUS else a11y_bus
    return Actionability(desktop, FocusProbe(address) if address else None, ocr=ocr,
                         deadline_s=settings.input.ready_timeout_s, verify_s=settings.input.verify_timeout_s)


def build_perceiver(desktop: Desktop, capabilities: Capabilities, monitor: int | None, *,
                    ocr: OcrEngine | None = None, a11y_bus: str | None = SESSION_BUS, scan: bool = False) -> Perceiver:
    """OCR (+ accessibility when a session bus is there) for planners that ground by elements, and
    for `scan`: the screen's text (accessibility names too) is read every step to catch on-screen
    prompt injection and to know whether a password field has focus (secrets). For planners that
    do not ground by elements that read runs while the model thinks, so it costs them no latency."""
    if not capabilities.elements and not scan:
        return ScreenPerceiver(desktop, monitor=monitor)
    return ScreenPerceiver(desktop, ocr=ocr or ocr_engine(), a11y=a11y_reader(a11y_bus), monitor=monitor)


def ocr_engine(threads: int | None = None) -> OcrEngine:
    from agent.perception.ocr import RapidOcrEngine

    return RapidOcrEngine() if threads is None else RapidOcrEngine(threads=threads)


def a11y_reader(bus: str | None = SESSION_BUS, timeout_s: float | None = None) -> A11yReader | None:
    """An AT-SPI reader on `bus` (SESSION_BUS: $DBUS_SESSION_BUS_ADDRESS), None without a bus."""
    from agent.perception.a11y import A11yReader

    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS") if bus == SESSION_BUS else bus
    if not address:
        return None
    own = address if bus != SESSION_BUS else None  # None: the reader takes the session bus itself
    return A11yReader(own) if timeout_s is None else A11yReader(own, timeout_s=timeout_s)


def planner_factory(settings: Settings) -> Callable[[], Planner]:
    """Builds a fresh planner per call; a model planner's SDK loads on the first call only."""
    if is_offline(settings):
        from agent.planners.offline.planner import OfflinePlanner
        return OfflinePlanner
    return functools.partial(build_planner, settings)


def run_agent(task: str, settings: Settings, display: str, planner: Planner, *,
              confirm: ConfirmCallback = decline_all, on_step: Callable[[Step], None] = lambda s: None,
              secrets: Mapping[str, str] | None = None, stop: threading.Event | None = None,
              kind: Kind = "do", cassette: Cassette | None = None, deadline: Deadline | None = None,
              on_end: Callable[[Outcome], None] = lambda o: None) -> RunResult:
    """Run `task` on `display` with `planner`; the recording lands under settings.record_dir.
    `deadline`: the --timeout the planner was built with (None: settings.timeout from the loop's start).
    Once the outcome is recorded, a failure while releasing the parts (the display is gone, a
    second interrupt) is logged, not raised: the run's ending is what it reports."""
    outcome: Outcome | None = None
    folder: Path | None = None
    try:
        with live_context(task, settings, display, planner, confirm=confirm, on_step=on_step, secrets=secrets,
                          stop=stop, kind=kind, cassette=cassette, deadline=deadline, on_end=on_end) as ctx:
            folder = ctx.recorder.folder
            outcome = run_task(task, ctx)
    except (Exception, KeyboardInterrupt) as e:
        if outcome is None:
            raise
        log.debug("releasing the run's parts failed: %s: %s", type(e).__name__, e, exc_info=True)
    assert outcome is not None
    return RunResult(outcome=outcome, folder=folder)


@contextmanager
def live_context(task: str, settings: Settings, display: str, planner: Planner, *,
                 confirm: ConfirmCallback = decline_all, on_step: Callable[[Step], None] = lambda s: None,
                 secrets: Mapping[str, str] | None = None, stop: threading.Event | None = None,
                 kind: Kind = "do", replay_of: str | None = None, cassette: Cassette | None = None,
                 deadline: Deadline | None = None,
                 on_end: Callable[[Outcome], None] = lambda o: None) -> Iterator[LoopContext]:
    """`wire`d parts around a started recording, as the loop takes them; released on exit.
    `cassette` (agent.planners.cassette) is attached to the recording folder. A replay checks each
    step's effect against the recording itself (`agent.replay`): it waits for no reactions."""
    secrets = dict(secrets or {})
    # Outside `wire`: a library thread failing while the parts are released is kept, not printed.
    with ThreadFaults() as faults, wire(settings, display, planner.capabilities, secrets=secrets,
                                        confirm=confirm) as parts:
        screen = parts.real.geometry()
        status.show(f"starting: display {display} ({screen.width}x{screen.height}), planner "
                    f"{planner.name}:{planner.model}" + (", connecting..." if planner.capabilities.model_calls else ""))
        parts.recorder.start(Session(kind=kind, task=task, planner=planner.name, model=planner.model,
                                     settings=settings.model_dump(mode="json"), screen=screen,
                                     replay_of=replay_of))
        if cassette is not None and parts.recorder.folder is not None:
            cassette.attach(parts.recorder.folder, parts.executor.redactor)
        yield LoopContext(desktop=parts.desktop, planner=planner, executor=parts.executor,
                          perceiver=parts.perceiver, settle=parts.settle, recorder=parts.recorder,
                          settings=settings, stop=stop or threading.Event(), on_step=on_step, secrets=secrets,
                          masker=_masker(parts) if secrets else None,
                          reactions=parts.reactions if kind != "replay" else None, deadline=deadline,
                          display=display, faults=faults, on_end=on_end,
                          numbers=_numbers(parts) if planner.capabilities.model_calls else None)


def _numbers(parts: Parts) -> NumberChecker:
    """A model's stated numbers are checked with the perceiver's OCR engine (or one of its own)."""
    from agent.perception.numbers import NumberChecker

    perceiver = parts.perceiver
    reader = perceiver.reader if isinstance(perceiver, ScreenPerceiver) else None
    return NumberChecker(reader.engine if reader is not None else ocr_engine())


def _masker(parts: Parts) -> SecretMasker:
    """Shares the perceiver's OCR reader (and its cache) when it has one."""
    from agent.perception.masking import SecretMasker
    from agent.perception.ocr_cache import OcrReader

    perceiver = parts.perceiver
    reader = perceiver.reader if isinstance(perceiver, ScreenPerceiver) else None
    return SecretMasker(reader or OcrReader(ocr_engine()), parts.executor.redactor)
