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
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agent.testing.session import UISession

if TYPE_CHECKING:
    from agent.display import VirtualDisplay
    from agent.perception.ocr import OcrEngine
    from agent.testing.scenario import Scenario, ScenarioStep
    from agent.testing.session import Finished
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
    _ocr: OcrEngine | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def opt(self, name: str) -> Any:
        return self.config.getoption(f"uiagent_{name}")

    def ocr(self) -> OcrEngine:
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
