"""`uiagent record`: a human demonstration written in the standard recording format (kind "record").

    stop = StopFlag()
    summary = record_demonstration(options, FolderRecorder(dir), stop, ready=lambda folder: ...)

Threads: pynput's listener (events -> merger, a raw grab on each action-starting press), a ticker
(finishes clicks that waited for a double click), an "after" thread (the settled screen after each
action: the next action's own grab when the user was already on to it, else grabs until two in a
row are equal, at most `settle_s`), a "quiet" thread (after each key or button release, grabs until
the screen is still or the next press comes: targets are cut from these frames, which show them as
replay will, not pressed) and a writer (image conversion, black-outs, crop, OCR label, one step
appended per action as it completes, so a crash loses nothing already done).

Privacy, in order: typed text in a sensitive window (title/class pattern) or, with accessibility,
in a focused password field becomes `{{REDACTED}}` before it leaves memory; sensitive windows and
the `--redact` regions are blacked out of every stored frame and crop, and before OCR.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from actions.desktop.base import WindowInfo
from actions.errors import DisplayError, UIAgentError
from actions.models import Action, ActionResult, Box, Key, Target, Type, Wait, action_point
from actions.policy import DEFAULT_SENSITIVE_WINDOWS
from agent.demonstration.grabs import Grabber, screen_geometry
from agent.demonstration.listener import Grab, InputSource
from agent.demonstration.merge import Demonstrated, MergeConfig, Merger
from agent.demonstration.targets import Labeler, black_out, crop_around, same_place
from agent.recording.format import REDACTED, Durations, Outcome, Session, Step, summarize_perception
from agent.recording.writer import Recorder

log = logging.getLogger(__name__)


class StopFlag(threading.Event):
    """Set once with a reason ("hotkey", "SIGINT", ...); later reasons are ignored."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = ""
        self.at = 0.0  # monotonic

    def stop(self, reason: str) -> None:
        if not self.is_set():
            self.reason, self.at = reason, time.monotonic()
            self.set()


@dataclass(frozen=True)
class RecordOptions:
    display: str
    task: str = "demonstration"
    stop_hotkey: str = "ctrl+alt+shift+r"
    sensitive_windows: tuple[str, ...] = DEFAULT_SENSITIVE_WINDOWS
    redact_regions: tuple[Box, ...] = ()
    labeler: Labeler | None = None
    password_probe: Callable[[], bool] | None = None
    merge: MergeConfig = field(default_factory=MergeConfig)
    settle_s: float = 1.0
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordSummary:
    folder: Path | None
    steps: int
    outcome: Outcome
    latencies_ms: tuple[float, ...] = ()


def record_demonstration(options: RecordOptions, recorder: Recorder, stop: StopFlag,
                         ready: Callable[[Path | None], None] = lambda folder: None) -> RecordSummary:
    """Record until `stop` is set (by the caller, or by the stop hotkey). Environment problems
    raise `DisplayError`/`UsageError`; once the recorder has started, session.json always gets an
    outcome, even when the display goes away mid-recording (then the error is raised after)."""
    from agent.demonstration.listener import check_record_extension

    check_record_extension(options.display)
    load = getattr(options.labeler, "load", None)
    if callable(load):
        load()  # import and build OCR now: doing it mid-recording starves the listener thread
    session = Session(kind="record", task=options.task, planner="human", settings=options.settings,
                      screen=screen_geometry(options.display))
    recorder.start(session)
    started = time.monotonic()
    writer = _Writer(recorder, options, stop)
    merger = Merger(options.merge, options.stop_hotkey)
    source = InputSource(options.display, merger, writer.put, stop.stop, options.sensitive_windows,
                         on_grab=writer.on_grab, on_release=writer.on_release)
    writer.source = source
    error: UIAgentError | None = None
    try:
        writer.start()
        source.start()
        ready(recorder.folder)
        while not stop.wait(0.25):
            if not source.alive:
                error = DisplayError(f"lost the X display {options.display} while recording "
                                     f"({source.failure or 'the listener stopped'}); steps so far are saved")
                break
            if writer.failure is not None:
                error = writer.failure
                break
    except UIAgentError as e:
        error = e
    finally:
        source.stop()
        writer.close()
        source.close()
    outcome = _outcome(stop, error, writer.steps, time.monotonic() - started)
    recorder.finish(outcome)
    recorder.close()
    if error is not None:
        raise error
    return RecordSummary(recorder.folder, writer.steps, outcome, tuple(source.latencies_ms))


def _outcome(stop: StopFlag, error: UIAgentError | None, steps: int, duration: float) -> Outcome:
    if error is not None:
        return Outcome(status="error", reason=str(error).splitlines()[0], steps=steps, duration_s=round(duration, 3))
    why = "the stop hotkey" if stop.reason == "hotkey" else (stop.reason or "the caller")
    return Outcome(status="done", reason=f"stopped by {why}", steps=steps, duration_s=round(duration, 3))


# --------------------------------------------------------------------------- the writer


@dataclass
class _Item:
    done: Demonstrated
    after: Grab | None = None
    settle_ms: float = 0.0


class _Writer:
    """The "after" thread and the writing thread (see the module docstring)."""

    def __init__(self, recorder: Recorder, options: RecordOptions, stop: StopFlag) -> None:
        self.recorder = recorder
        self.options = options
        self.stop = stop
        self.source: InputSource | None = None
        self.steps = 0
        self.failure: UIAgentError | None = None
        self._after_q: queue.Queue[_Item | None] = queue.Queue()
        self._write_q: queue.Queue[_Item | None] = queue.Queue()
        self._recent: deque[Grab] = deque(maxlen=6)  # recent press grabs, for "after" frames
        self._probe = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record-a11y") \
            if options.password_probe else None
        self._threads = [threading.Thread(target=self._after_loop, name="record-after", daemon=True),
                         threading.Thread(target=self._write_loop, name="record-writer", daemon=True),
                         threading.Thread(target=self._quiet_loop, name="record-quiet", daemon=True)]
        self._grabbers = {name: Grabber(options.display, options.sensitive_windows) for name in ("after", "quiet")}  # one per thread
        self._released = threading.Event()  # a key or button went up: grab the screen once it settles
        self._released.set()                # ... and once at the start, for the first action
        self._closing = False
        self._quiet: deque[Grab] = deque(maxlen=12)  # one settled screen per interval between actions
        self._previous_end = float("-inf")  # when the last written action ended
        self._wall = time.time() - time.monotonic()

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def put(self, done: Demonstrated) -> None:
        self._after_q.put(_Item(done))

    def on_grab(self, grab: Grab, event: Any) -> None:
        self._recent.append(grab)
        if self._probe is not None and getattr(event, "keycode", None) is not None:
            assert self.options.password_probe is not None
            grab.extra["password"] = self._probe.submit(self.options.password_probe)

    def on_release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self._after_q.put(None)
        self._closing = True
        self._released.set()
        for t in self._threads:
            t.join()
        if self._probe is not None:
            self._probe.shutdown(wait=False, cancel_futures=True)
        for grabber in self._grabbers.values():
            grabber.close()

    # -- quiet frames: what a target looked like before the pointer went to it

    def _quiet_loop(self) -> None:
        """After each key or button release, grab until the screen is still (or the next press
        comes, or `settle_s`). A press frame shows its target pressed or highlighted; replay looks
        before it points, so targets are cut from these frames when they show the same place."""
        while True:
            self._released.wait()
            if self._closing:
                return
            self._released.clear()
            try:
                self._settle_quietly()
            except Exception as e:  # the display is going away: targets fall back to press frames
                log.debug("no quiet frame: %s", e)

    def _settle_quietly(self) -> None:
        """Grab until still (two equal grabs, >= 0.1 s after the release) and keep the last frame:
        the settled screen, most likely before the pointer moved on to the next target, as replay
        will see it; if the next press comes first, the last frame grabbed before it."""
        start = time.monotonic()
        frames: list[Grab] = []
        try:
            while not self._closing and not self._released.is_set():
                last_press = self.source.last_press if self.source is not None else 0.0
                grab = self._grabbers["quiet"].grab()
                if self.source is not None and self.source.last_press != last_press:
                    return  # a press came in while grabbing: these pixels may show it
                frames.append(grab)
                if len(frames) >= 2 and frames[-1].raw == frames[-2].raw and grab.received - start >= 0.1:
                    return
                if grab.received - start >= self.options.settle_s:
                    return
                time.sleep(0.03)
        finally:
            if frames:
                self._quiet.append(frames[-1])

    # -- after frames

    def _after_loop(self) -> None:
        while (item := self._after_q.get()) is not None:
            if not isinstance(item.done.action, Wait):
                t0 = time.monotonic()
                try:
                    item.after = self._after(item.done)
                except Exception as e:  # the display went away: the step keeps its before frame
                    log.debug("no after frame: %s", e)
                item.settle_ms = (time.monotonic() - t0) * 1000
            self._write_q.put(item)
        self._write_q.put(None)

    def _after(self, done: Demonstrated) -> Grab | None:
        """The next action's own grab if it already began, else grab until the screen is still."""
        deadline = time.monotonic() + self.options.settle_s
        previous: bytes | None = None
        still_since = 0.0
        while True:
            later = [g for g in list(self._recent) if g.received > done.ended + 0.005 and g is not done.context]
            if later:
                return later[0]
            grab = self._grabbers["after"].grab()
            now = time.monotonic()
            if grab.raw != previous:
                previous, still_since = grab.raw, now
            elif now - still_since >= 0.1 or now >= deadline:
                return grab
            if now >= deadline:
                return grab
            if self.stop.is_set() and now - still_since >= 0.03:
                return grab
            time.sleep(0.03)

    # -- writing

    def _write_loop(self) -> None:
        while (item := self._write_q.get()) is not None:
            if self.failure is not None:
                continue
            try:
                self._write(item)
            except UIAgentError as e:  # the folder became unwritable, the disk is full
                self.failure = e
                self.stop.stop("error")
            except Exception as e:
                log.exception("recording: step dropped: %s", e)

    def _write(self, item: _Item) -> None:
        done = item.done
        if self._dropped(done):
            return
        action, notes = self._private(done)
        t0 = time.perf_counter()
        before = self._image(done.context) if isinstance(done.context, Grab) else None
        after = self._image(item.after) if item.after is not None else None
        frame_before = self.recorder.add_frame(before) if before is not None else None
        frame_after = self.recorder.add_frame(after) if after is not None else None
        elements: list[Any] = []
        perceive_ms = 0.0
        point = action_point(action)
        if point is not None and before is not None:
            t1 = time.perf_counter()
            action, elements = self._target(action, before, point, done.started)
            perceive_ms = (time.perf_counter() - t1) * 1000
        self._previous_end = done.ended
        capture = done.context.latency_ms if isinstance(done.context, Grab) else 0.0
        wall = self._when(done.started)
        step = Step(index=self.steps, started=wall, ended=self._when(done.ended), frame_before=frame_before,
                    frame_after=frame_after, actions=(action,), notes=tuple(notes),
                    window=_window(done.context),
                    perception=summarize_perception(elements, source="ocr" if elements else ""),
                    results=(ActionResult(action=action, status="performed", started_at=wall.timestamp()),),
                    durations=Durations(capture=round(capture, 2), perceive=round(perceive_ms, 1),
                                        settle=round(item.settle_ms, 1),
                                        record=round((time.perf_counter() - t0) * 1000 - perceive_ms, 1)))
        self.recorder.append(step)
        self.steps += 1
        log.info("recorded step %d: %s", step.index, action.describe())

    def _dropped(self, done: Demonstrated) -> bool:
        """The Ctrl-C that stopped a recording from its own terminal is not part of the demonstration."""
        return (self.stop.reason == "SIGINT" and isinstance(done.action, Key) and done.action.chord == "ctrl+c"
                and done.started >= self.stop.at - 1.5)

    def _private(self, done: Demonstrated) -> tuple[Action, list[str]]:
        action, notes = done.action, []
        if done.redacted:
            notes.append("typed text redacted: the window is sensitive")
        elif isinstance(action, Type) and isinstance(done.context, Grab):
            probe: Future[bool] | None = done.context.extra.get("password")
            try:
                is_password = bool(probe and probe.result(timeout=5))
            except Exception:  # no answer from accessibility: not known to be a password field
                is_password = False
            if is_password:
                action = Type(text=REDACTED)
                notes.append("typed text redacted: the focused field is a password field")
        return action, notes

    def _image(self, grab: Grab) -> Image.Image:
        image = Image.frombytes("RGB", grab.size, grab.raw, "raw", "BGRX")
        return black_out(image, (*self.options.redact_regions, *grab.hidden))

    def _target(self, action: Action, image: Image.Image, point: Any,
                started: float) -> tuple[Action, list[Any]]:
        # The press frame shows the target pressed or highlighted: OCR misreads it, and replay
        # (which looks before it points) never sees it like that. So crop and label come from the
        # settled screen between the previous action and this press, when it shows the same place.
        pressed = crop_around(image, point)
        calm, quiet = self._calm_frame(image.size, started), None
        if calm is not None:
            quiet = crop_around(calm, point)
            if not same_place(quiet, pressed):  # the screen changed since: the press frame it is
                calm, quiet = None, None
        crop_hash = self.recorder.add_crop(quiet or pressed)
        element = None
        for frame in (f for f in (calm, image) if f is not None):
            if self.options.labeler is None or element is not None:
                break
            try:
                element = self.options.labeler.label(frame, point)
            except Exception as e:
                log.warning("no label for step %d: %s", self.steps, e)
        target = Target(label=element.text if element else None, role=element.role if element else None,
                        bbox=element.box if element else None, crop_hash=crop_hash)
        return action.model_copy(update={"target": target}), [element] if element else []

    def _calm_frame(self, size: tuple[int, int], started: float) -> Image.Image | None:
        """The quiet frame of the interval between the previous action and this one, if any."""
        chosen = next((g for g in reversed(list(self._quiet))
                       if self._previous_end <= g.received and g.grabbed < started - 0.02 and g.size == size), None)
        log.debug("calm frame for the action at %.3f: %s (quiet frames %s; previous action ended %.3f)", started,
                  "none" if chosen is None else f"{chosen.grabbed:.3f}",
                  " ".join(f"{g.grabbed:.3f}" for g in self._quiet), self._previous_end)
        return self._image(chosen) if chosen is not None else None

    def _when(self, t: float) -> datetime:
        return datetime.fromtimestamp(t + self._wall, UTC)


def _window(context: Any) -> WindowInfo | None:
    window = context.window if isinstance(context, Grab) else None
    return window if window is not None and (window.app or window.title) else None


def default_labeler(a11y: bool) -> Labeler:
    """`uiagent record`'s labeller: rapidocr on the band around each point; accessibility names too
    when a session bus is set."""
    from agent.demonstration.targets import OcrLabeler
    from agent.run.wiring import a11y_reader, ocr_engine

    # One onnxruntime thread: the other core stays with the listener and the app being shown.
    reader = a11y_reader(timeout_s=1.0) if a11y else None
    return OcrLabeler(ocr_engine(threads=1), reader)


def redacted_settings(regions: Sequence[Box]) -> list[str]:
    return [f"{b.left},{b.top},{b.width},{b.height}" for b in regions]
