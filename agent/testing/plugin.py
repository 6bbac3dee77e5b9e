"""pytest plugin for regression UI tests (registered through the `pytest11` entry point).

Fixtures (see README "Regression UI tests"):
    uiagent_display / desktop   a VirtualDisplay (Xvfb + openbox, private HOME) per test, or per
                                worker with --uiagent-display=worker. A project conftest that
                                defines its own `desktop` (as uiagent's own does) overrides the
                                alias; `uiagent_display` is always the plugin's.
    ui                          an `agent.testing.ui.UI` bound to that display
Collection: `test_*.uiagent.yaml` files are scenarios (`agent.testing.scenario`).
Options: --uiagent-model, --uiagent-base-url, --uiagent-cache=off|read|write|heal, --uiagent-cache-dir,
    --uiagent-record=off|failed|all, --uiagent-record-dir, --uiagent-display=test|worker,
    --uiagent-screen WxH, --uiagent-a11y.

This module is the composition root of test runs: it alone picks the concrete desktop, OCR
engine, planner, judge, recorder and cache. A failed test gets its failing step, its recording and
the path of its HTML report in the terminal and, as properties, in `--junitxml`.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from agent.display import VirtualDisplay
    from agent.testing.scenario import Scenario, ScenarioStep
    from agent.testing.ui import UI

log = logging.getLogger(__name__)

CACHE_MODES = ("off", "read", "write", "heal")
RECORD_MODES = ("off", "failed", "all")
DIFF_SECTION = "uiagent step cache diff"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("uiagent", "uiagent regression UI tests")
    g.addoption("--uiagent-model", default=None, metavar="PROVIDER:MODEL",
                help="planner for ui.do and judge for ui.check/ui.query (default: by configured key, else offline)")
    g.addoption("--uiagent-base-url", default=None, metavar="URL", help="OpenAI-compatible or Anthropic endpoint")
    g.addoption("--uiagent-cache", default="write", choices=CACHE_MODES,
                help="step cache: off; read (CI: a miss fails); write (misses ask the model, file updated, "
                     "diff printed); heal (like write, changes go to <test>.yaml.new for review). Default: write")
    g.addoption("--uiagent-cache-dir", default=None, metavar="DIR", help="default: <rootdir>/.uiagent-cache")
    g.addoption("--uiagent-record", default="failed", choices=RECORD_MODES,
                help="keep recordings (+ HTML report) of failed tests (default), all tests, or none")
    g.addoption("--uiagent-record-dir", default=None, metavar="DIR", help="default: <rootdir>/recordings/tests")
    g.addoption("--uiagent-display", default="test", choices=("test", "worker"),
                help="one virtual display per test (default) or one per worker process")
    g.addoption("--uiagent-screen", default="1280x800", metavar="WxH", help="virtual screen size")
    g.addoption("--uiagent-a11y", action="store_true", help="start a session bus so GTK/Qt apps are accessible")


# --------------------------------------------------------------------------- state


@dataclass
class DisplayPool:
    """Virtual displays: a fresh one per test, or one kept for the whole worker."""

    per_worker: bool
    size: tuple[int, int]
    dbus: bool
    _shared: VirtualDisplay | None = None

    def acquire(self) -> VirtualDisplay:
        from agent.display import VirtualDisplay

        if self.per_worker and self._shared is not None:
            return self._shared
        vd = VirtualDisplay(size=self.size, window_manager=True, dbus=self.dbus)
        vd.start()
        if self.per_worker:
            self._shared = vd
        return vd

    def release(self, vd: VirtualDisplay) -> None:
        if vd is not self._shared:
            vd.stop()

    def close(self) -> None:
        if self._shared is not None:
            self._shared.stop()
            self._shared = None


@dataclass
class PluginState:
    config: pytest.Config
    displays: DisplayPool
    _ocr: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def opt(self, name: str) -> Any:
        return self.config.getoption(f"uiagent_{name}")

    def ocr(self) -> Any:
        """One OCR engine per process (its models load on first use, ~1.4 s)."""
        with self._lock:
            if self._ocr is None:
                from agent.perception.ocr import RapidOcrEngine
                self._ocr = RapidOcrEngine()
            return self._ocr

    def folder(self, option: str, default: str) -> Path:
        value = self.opt(option)
        path = Path(value) if value else Path(default)
        return path if path.is_absolute() else self.config.rootpath / path


STATE = pytest.StashKey[PluginState]()
SESSION = pytest.StashKey["UISession"]()


def pytest_configure(config: pytest.Config) -> None:
    from agent.display import parse_size

    try:
        size = parse_size(config.getoption("uiagent_screen"))
    except Exception as e:
        raise pytest.UsageError(f"--uiagent-screen: {e}") from None
    pool = DisplayPool(per_worker=config.getoption("uiagent_display") == "worker", size=size,
                       dbus=bool(config.getoption("uiagent_a11y")))
    config.stash[STATE] = PluginState(config=config, displays=pool)
    config.pluginmanager.register(DiffPrinter(config), "uiagent-diffs")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.displays.close()


# --------------------------------------------------------------------------- one test's UI


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
        from agent.planners.base import Capabilities
        from agent.recording.format import Session
        from agent.run.wiring import is_offline, judge_factory, planner_factory, wire
        from agent.settings import load_settings
        from agent.testing.ui import UI, UIParts

        self.state, self.nodeid = state, nodeid
        self.cache_mode = state.opt("cache")
        self.finished: Finished | None = None
        self._released = False
        self._stack = ExitStack()
        settings = load_settings({"model": state.opt("model"), "base_url": state.opt("base_url")})
        cache = self._load_cache()
        self.recorder = self._recorder()
        bus = vd.env.get("DBUS_SESSION_BUS_ADDRESS") if vd.dbus else None
        wired = self._stack.enter_context(wire(settings, vd.display, Capabilities(elements=True), recorder=self.recorder,
                                               kill_hotkey=False, ocr=state.ocr(), a11y_bus=bus))
        self.desktop = wired.real
        self._x, window_box = _window_reader(vd.display)
        self._stack.callback(self._x.close)
        spec = "offline:steps" if is_offline(settings) else (settings.model or "auto")
        parts = UIParts(display=vd.display, env=dict(vd.env), desktop=wired.desktop, executor=wired.executor,
                        perceiver=wired.perceiver, settle=wired.settle, recorder=self.recorder, settings=settings,
                        planner_factory=planner_factory(settings), judge_factory=judge_factory(settings),
                        cache=cache, cache_mode=self.cache_mode, window_box=window_box)
        self.recorder.start(Session(kind="do", task=f"test {nodeid}", planner=spec.split(":")[0], model=spec,
                                    settings=settings.model_dump(mode="json"), screen=self.desktop.geometry()))
        self.ui: UI = UI(parts)

    def _load_cache(self) -> Any:
        from agent.testing.step_cache import CACHE_DIR, CacheError, CacheFile, cache_path

        if self.cache_mode == "off":
            return None
        path = cache_path(self.state.folder("cache_dir", CACHE_DIR), self.nodeid)
        try:
            return CacheFile.load(path, self.nodeid)
        except CacheError as e:
            pytest.fail(str(e), pytrace=False)

    def _recorder(self) -> Any:
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


def _window_reader(display: str) -> tuple[Any, Any]:
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


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def uiagent_display(request: pytest.FixtureRequest) -> Iterator[VirtualDisplay]:
    """A virtual display with openbox and a private HOME (per test, or per worker)."""
    pool = request.config.stash[STATE].displays
    try:
        vd = pool.acquire()
    except Exception as e:
        pytest.fail(f"uiagent: cannot start a virtual display: {e}", pytrace=False)
    try:
        yield vd
    finally:
        pool.release(vd)


@pytest.fixture
def desktop(uiagent_display: VirtualDisplay) -> VirtualDisplay:
    """The issue's name for `uiagent_display` (a project conftest's own `desktop` wins over it)."""
    return uiagent_display


@pytest.fixture
def ui(request: pytest.FixtureRequest, uiagent_display: VirtualDisplay) -> Iterator[UI]:
    """An `agent.testing.ui.UI` on this test's display: launch, do, click, type, press, wait_for,
    assert_visible, assert_not_visible, check, query."""
    session = UISession(request.config.stash[STATE], request.node.nodeid, uiagent_display)
    request.node.stash[SESSION] = session
    try:
        yield session.ui
    finally:
        session.close()


# --------------------------------------------------------------------------- YAML scenarios


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    name = file_path.name
    if name.startswith("test_") and name.endswith((".uiagent.yaml", ".uiagent.yml")):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from agent.testing.scenario import ScenarioError, load_scenarios

        try:
            scenarios = load_scenarios(self.path)
        except ScenarioError as e:
            raise self.CollectError(str(e)) from None
        for scenario in scenarios:
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioStepFailed(Exception):
    def __init__(self, scenario: Scenario, step: ScenarioStep, index: int, message: str) -> None:
        super().__init__(f"{scenario.path}:{step.line}: step {index} `{step.describe()}` failed: {message}")


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        from actions.errors import UIAgentError
        from agent.testing.scenario import run_step
        from agent.testing.ui import UIStepFailed

        pool = self.config.stash[STATE].displays
        vd = pool.acquire()
        try:
            session = UISession(self.config.stash[STATE], self.nodeid, vd)
            self.stash[SESSION] = session
            try:
                for index, step in enumerate(self.scenario.steps, 1):
                    try:
                        run_step(session.ui, step)
                    except (UIStepFailed, UIAgentError) as e:
                        raise ScenarioStepFailed(self.scenario, step, index, str(e)) from None
            finally:
                session.release()
        finally:
            pool.release(vd)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioStepFailed):
            return str(excinfo.value)
        if excinfo.errisinstance(pytest.fail.Exception):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.scenario.line - 1, f"scenario {self.scenario.name}"


# --------------------------------------------------------------------------- reports


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    session = item.stash.get(SESSION, None)
    if session is None or session.finished is not None or call.when == "setup":
        return report
    if call.when == "call" or report.failed:
        reason = str(call.excinfo.value) if call.excinfo else ""
        done = session.finish(passed=report.passed, reason=reason)
        _attach(item, report, session, done)
    return report


def _attach(item: pytest.Item, report: pytest.TestReport, session: UISession, done: Finished) -> None:
    ui = session.ui
    props: list[tuple[str, object]] = [("uiagent_model_calls", ui.model_calls),
                                       ("uiagent_cache_hits", ui.cache_hits)]
    lines = [f"model calls: {ui.model_calls}, cache hits: {ui.cache_hits}, cache misses: {ui.cache_misses}"]
    failed = ui.failed_step()
    if failed is not None and not report.passed:
        props.append(("uiagent_failed_step", f"step {failed.number} {failed.call}"))
        lines.insert(0, f"failed at step {failed.number} {failed.call}: {failed.detail}")
    if done.recording is not None:
        props.append(("uiagent_recording", str(done.recording)))
        lines.append(f"recording: {done.recording}")
    if done.report is not None:
        props.append(("uiagent_report", str(done.report)))
        lines.append(f"report: {done.report}")
    if done.cache_file is not None:
        props.append(("uiagent_cache_file", str(done.cache_file)))
        lines.append(f"step cache written: {done.cache_file}")
    item.user_properties.extend(props)
    report.user_properties = list(report.user_properties) + props
    report.sections.append(("uiagent", "\n".join(lines)))
    if done.diff:
        report.sections.append((DIFF_SECTION, done.diff))


class DiffPrinter:
    """Collects step-cache diffs (from xdist workers too: sections travel with the reports) and
    prints them after the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.diffs: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.diffs += [(report.nodeid, content) for name, content in report.sections if name == DIFF_SECTION]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.diffs:
            return
        terminalreporter.section("uiagent step cache changes")
        for nodeid, diff in self.diffs:
            terminalreporter.write_line(f"{nodeid}:")
            for line in diff.rstrip("\n").splitlines():
                terminalreporter.write_line("    " + line)
        if self.config.getoption("uiagent_cache") == "heal":
            terminalreporter.write_line("review the diffs above, then accept them by moving each <test>.yaml.new "
                                        "over <test>.yaml (or rerun with --uiagent-cache=write)")
