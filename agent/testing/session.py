"""One test's UI and everything built for it (`UISession`), as the pytest plugin uses it.

The parts come from `agent.run.wiring.wire` (the one wiring of every entry point) with the test's
own recorder (`UIRecorder`), the process's OCR engine and no kill-switch hotkey; `finish` writes
the recording, its report and the step cache once.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from actions.models import Box
    from agent.display import VirtualDisplay
    from agent.settings import Settings
    from agent.testing.judge import Judge
    from agent.testing.plugin import PluginState
    from agent.testing.step_cache import CacheFile
    from agent.testing.ui import UI
    from agent.testing.ui_recorder import UIRecorder

log = logging.getLogger(__name__)


@dataclass
class Finished:
    passed: bool
    recording: Path | None = None
    report: Path | None = None
    cache_file: Path | None = None
    diff: str = ""


class UISession:
    """A UI and everything built for it; `finish` writes recording, report and cache once."""

    def __init__(self, state: PluginState, nodeid: str, vd: VirtualDisplay) -> None:
        from agent.perception.numbers import NumberChecker
        from agent.planners.base import Capabilities
        from agent.planners.registry import is_offline
        from agent.recording.format import Session
        from agent.run.wiring import planner_factory, wire
        from agent.settings import load_settings
        from agent.testing.ui import UI, UIParts

        self.state, self.nodeid = state, nodeid
        self.cache_mode = state.opt("cache")
        self.finished: Finished | None = None
        self._released = False
        settings = load_settings({"model": state.opt("model"), "base_url": state.opt("base_url")})
        cache = self._load_cache()
        self.recorder = self._recorder()
        bus = vd.env.get("DBUS_SESSION_BUS_ADDRESS") if vd.dbus else None
        with ExitStack() as stack:  # what was built is released if a later part fails
            wired = stack.enter_context(wire(settings, vd.display, Capabilities(elements=True), recorder=self.recorder,
                                             kill_hotkey=False, ocr=state.ocr(), a11y_bus=bus))
            x, window_box = _window_reader(vd.display)
            stack.callback(x.close)
            self._stack = stack.pop_all()
        self.desktop = wired.real
        spec = "offline:steps" if is_offline(settings) else (settings.model or "auto")
        parts = UIParts(display=vd.display, env=dict(vd.env), desktop=wired.desktop, executor=wired.executor,
                        perceiver=wired.perceiver, settle=wired.settle, recorder=self.recorder, settings=settings,
                        planner_factory=planner_factory(settings), judge_factory=judge_factory(settings),
                        cache=cache, cache_mode=self.cache_mode, window_box=window_box, reactions=wired.reactions,
                        numbers=NumberChecker(state.ocr()))
        self.recorder.start(Session(kind="do", task=f"test {nodeid}", planner=spec.split(":")[0], model=spec,
                                    settings=settings.model_dump(mode="json"), screen=self.desktop.geometry()))
        self.ui: UI = UI(parts)

    def _load_cache(self) -> CacheFile | None:
        from agent.testing.step_cache import CACHE_DIR, CacheError, CacheFile, cache_path

        if self.cache_mode == "off":
            return None
        path = cache_path(self.state.folder("cache_dir", CACHE_DIR), self.nodeid)
        try:
            return CacheFile.load(path, self.nodeid)
        except CacheError as e:
            pytest.fail(str(e), pytrace=False)

    def _recorder(self) -> UIRecorder:
        from agent.recording.writer import FolderRecorder
        from agent.testing.ui_recorder import UIRecorder

        if self.state.opt("record") == "off":
            return UIRecorder(None)
        return UIRecorder(FolderRecorder(self.state.folder("record_dir", "recordings/tests")))

    def finish(self, passed: bool, reason: str = "") -> Finished:
        """Finish the recording (kept per --uiagent-record, with report.html) and write the cache."""
        if self.finished is not None:
            return self.finished
        from agent.recording.format import Outcome

        ui = self.ui
        outcome = Outcome(status="done" if passed else "failed", reason=reason[:2000],
                          model_calls=ui.model_calls)
        self.recorder.finish_test(outcome)
        done = Finished(passed=passed)
        folder = self.recorder.folder
        if folder is not None and passed and self.state.opt("record") == "failed":
            shutil.rmtree(folder, ignore_errors=True)
        elif folder is not None:
            done.recording = folder
            done.report = _write_report(folder)
        self._write_cache(done)
        self.finished = done
        return done

    def _write_cache(self, done: Finished) -> None:
        cache = self.ui.parts.cache
        if cache is None or not cache.changed or self.cache_mode not in ("write", "heal"):
            return
        target = cache.path if self.cache_mode == "write" else cache.path.with_name(cache.path.name + ".new")
        try:
            name = str(target.relative_to(self.state.config.rootpath))
        except ValueError:
            name = str(target)
        text = cache.render()
        done.diff = cache.diff(text, name=name)
        cache.save_crops({h: img for h, img in self.recorder.crops.items()
                          if any(h in e.crops() for e in cache.entries)})
        cache.write(target)
        done.cache_file = target

    def release(self) -> None:
        """Stop the test's apps and release X connections (the display is the pool's). Idempotent."""
        if self._released:
            return
        self._released = True
        try:
            self.ui.close()
        finally:
            self._stack.close()

    def close(self) -> None:
        try:
            if self.finished is None:
                self.finish(passed=False, reason="the test ended before its result was known")
        finally:
            self.release()


def _window_reader(display: str) -> tuple[Any, Callable[[int], Box | None]]:
    """An X connection and a function: window id -> its box on screen (None if unknown)."""
    from Xlib.display import Display

    from actions.models import Box

    x = Display(display)

    def box(window_id: int) -> Box | None:
        if not window_id:
            return None
        try:
            win = x.create_resource_object("window", window_id)
            geom = win.get_geometry()
            pos = x.screen().root.translate_coords(win, 0, 0)
            return Box(left=pos.x, top=pos.y, right=pos.x + geom.width, bottom=pos.y + geom.height)
        except Exception:  # the window went away
            return None

    return x, box


def _write_report(folder: Path) -> Path | None:
    from agent.recording.report import write_report

    try:
        return write_report(folder).path
    except Exception as e:  # a report is a help, never a second failure
        log.warning("could not write the HTML report of %s: %s", folder, e)
        return None


def judge_factory(settings: Settings) -> Callable[[], Judge] | None:
    """Builds the judge of ui.check/ui.query on first use (the SDKs load only then); None offline."""
    from agent.planners.registry import is_offline

    if is_offline(settings):
        return None

    def build() -> Judge:
        from agent.planners.registry import parse_spec
        from agent.planners.transport import Connection
        from agent.testing.judge import ModelJudge

        provider, model = parse_spec(settings.model)  # an unknown provider's UsageError comes here, on use
        return ModelJudge(provider, model, Connection(provider=provider, base_url=settings.base_url))

    return build
