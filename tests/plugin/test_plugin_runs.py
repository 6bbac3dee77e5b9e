"""The pytest plugin end to end: inner pytest runs (pytester, subprocesses) on real displays with
real apps, the offline planner, and a scripted model behind the fake OpenAI server."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.model_servers import FakeModelServer
from tests.plugin.model_policy import UIPolicy

pytestmark = pytest.mark.display
APPS = Path(__file__).resolve().parents[1] / "apps"
FORM = APPS / "form.py"

FORM_TEST = f'''
import os, sys, time
from pathlib import Path

def test_submit(ui, tmp_path):
    out = tmp_path / "out.txt"
    ui.launch([sys.executable, {str(FORM)!r}, "--out", str(out), "--layout", os.environ.get("FORM_LAYOUT", "default")])
    ui.do("press Tab")
    ui.do("type 'Alice'")
    ui.do("click Submit")
    deadline = time.monotonic() + 10
    while "submit" not in out.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert '"Name": "Alice"' in out.read_text()
'''


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer(policy=UIPolicy()) as s:
        yield s


def run(pytester: pytest.Pytester, *args: str, timeout: float = 240) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=junit.xml", *args, timeout=timeout)


def properties(pytester: pytest.Pytester) -> dict[str, dict[str, str]]:
    """Per test name: its JUnit XML properties."""
    root = ET.parse(pytester.path / "junit.xml").getroot()
    return {case.get("name", ""): {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
            for case in root.iter("testcase")}


def test_model_run_writes_cache_then_reruns_with_zero_model_calls(pytester: pytest.Pytester, server: FakeModelServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_form=FORM_TEST)
    model = ("--uiagent-model", "openai:gpt-4o", "--uiagent-base-url", server.openai_url)
    first = run(pytester, *model)
    first.assert_outcomes(passed=1)
    calls = server.calls("/v1/chat/completions")
    assert calls >= 6  # three ui.do steps: an action and a `done` each
    cache = pytester.path / ".uiagent-cache" / "test_form" / "test_submit.yaml"
    text = cache.read_text()
    assert "instruction: click Submit" in text and "model: openai:gpt-4o" in text and "crop_hash:" in text
    first.stdout.fnmatch_lines(["*uiagent step cache changes*", "*+++ b/.uiagent-cache/test_form/test_submit.yaml"])

    second = run(pytester, *model, "--uiagent-cache=read")
    second.assert_outcomes(passed=1)
    assert server.calls("/v1/chat/completions") == calls  # zero model calls on the rerun
    assert properties(pytester)["test_submit"]["uiagent_cache_hits"] == "3"
    assert cache.read_text() == text

    # The layout changes (buttons in a column on the right): read fails clearly, heal re-plans.
    monkeypatch.setenv("FORM_LAYOUT", "alt")
    broken = run(pytester, *model, "--uiagent-cache=read")
    broken.assert_outcomes(failed=1)
    broken.stdout.fnmatch_lines([("*step 2 ui.do('press Tab'): not in the step cache *test_submit.yaml*"
                                  "--uiagent-cache=write*")])
    assert server.calls("/v1/chat/completions") == calls

    healed = run(pytester, *model, "--uiagent-cache=heal")
    healed.assert_outcomes(passed=1)
    assert server.calls("/v1/chat/completions") > calls
    healed.stdout.fnmatch_lines(["*uiagent step cache changes*", "*+++ b/.uiagent-cache/test_form/test_submit.yaml.new",
                                 "*+- instruction: click Submit*", "*review the diffs above*"])
    assert cache.read_text() == text  # the reviewed file is untouched; the proposal is next to it
    assert "click Submit" in cache.with_name("test_submit.yaml.new").read_text()


SCENARIO = f'''
name: fill the form
steps:
  - launch: {sys.executable} {FORM}
  - press: Tab
  - type: Alice
  - do: click Submit
  - wait_for: {{text: Alice, timeout: 5}}
  - assert_not_visible: Error
---
name: wrong assertion
steps:
  - launch: {sys.executable} {FORM}
  - press: Tab
  - type: Alice
  - assert_visible: Bob
'''


def test_yaml_scenarios_pass_and_a_wrong_assertion_names_its_step(pytester: pytest.Pytester) -> None:
    pytester.makefile(".uiagent.yaml", test_form=SCENARIO)
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*test_form.uiagent.yaml::fill the form PASSED*",
        ("*test_form.uiagent.yaml:15: step 4 `assert_visible: 'Bob'` failed: step 4 ui.assert_visible('Bob'): "
         "'Bob' is not on screen*"),
    ])
    props = properties(pytester)["wrong assertion"]
    assert props["uiagent_failed_step"] == "step 4 ui.assert_visible('Bob')"
    report = Path(props["uiagent_report"])
    assert report.is_file() and report.parent == Path(props["uiagent_recording"])
    assert "ui step 4: ui.assert_visible" in (report.parent / "steps.jsonl").read_text() or report.stat().st_size
    assert "Traceback" not in result.stdout.str()
    # The passing scenario's cache (a `do` step) was written; the failing one's recording was kept.
    assert (pytester.path / ".uiagent-cache" / "test_form" / "fill the form.yaml".replace(" ", "_")).is_file()


@pytest.mark.parametrize("body, message", [
    ("steps:\n  - launch: xterm\n  - clik: Submit\n", "test_bad.uiagent.yaml:3: unknown step 'clik' (did you mean 'click'?)"),
    ("steps:\n  - wait_for: {text: ok, timout: 3}\n",
     "test_bad.uiagent.yaml:2: unknown key 'timout' in `wait_for` (did you mean 'timeout'?)"),
    ("name: x\nstep:\n  - click: OK\n", "test_bad.uiagent.yaml:2: unknown key 'step' (did you mean 'steps'?)"),
    ("steps:\n  - click: [a, b]\n", "test_bad.uiagent.yaml:2: `label` must be a single value"),
    ("steps:\n  - click: OK\n    type: x\n", "test_bad.uiagent.yaml:2: a step is one `kind: value` pair"),
    ("steps:\n  - click: 'OK\n", "test_bad.uiagent.yaml:2: not valid YAML"),
])
def test_bad_scenario_file_is_one_clear_error_naming_file_and_line(pytester: pytest.Pytester, body: str,
                                                                   message: str) -> None:
    pytester.makefile(".uiagent.yaml", test_bad=body)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert "Traceback" not in result.stdout.str() and "agent/" not in result.stdout.str()


BAD_CACHE = '''
def test_a(ui):
    ui.do("press Tab")
'''


@pytest.mark.parametrize("content, message", [
    ("format: uiagent-step-cache\nversion: 1\nsteps: [\n", "test_a.yaml:4 is not valid YAML"),
    ("format: uiagent-step-cache\nversion: 99\nsteps: []\n", "test_a.yaml has format version 99"),
    ("just text\n", "test_a.yaml is not a uiagent step cache"),
    ("format: uiagent-step-cache\nversion: 1\nsteps:\n- instruction: x\n  actions: [{kind: jump}]\n",
     "test_a.yaml:4: step 1 is invalid"),
])
def test_corrupt_or_foreign_cache_file_fails_naming_it(pytester: pytest.Pytester, content: str, message: str) -> None:
    pytester.makepyfile(test_x=BAD_CACHE)
    cache = pytester.path / ".uiagent-cache" / "test_x" / "test_a.yaml"
    cache.parent.mkdir(parents=True)
    cache.write_text(content)
    result = run(pytester, "--uiagent-cache=read")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert "Traceback" not in result.stdout.str()


NEVER_STARTS = '''
def test_app_exits(ui):
    ui.launch("sh -c 'exit 3'")

def test_no_such_app(ui):
    ui.launch("no-such-program-xyz")
'''


def test_app_that_never_starts_fails_naming_the_step(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_apps=NEVER_STARTS)
    pytester.makefile(".uiagent.yaml", test_apps="steps:\n  - press: Tab\n  - launch: {cmd: no-such-program-xyz, timeout: 2}\n")
    result = run(pytester)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*step 1 ui.launch(\"sh -c 'exit 3'\"): *exited with code 3 before showing a window*",
        "*step 1 ui.launch('no-such-program-xyz'): cannot launch 'no-such-program-xyz': command not found*",
    ])
    assert "Traceback" not in result.stdout.str() and "env = " not in result.stdout.str()
    result.stdout.fnmatch_lines([("*test_apps.uiagent.yaml:3: step 2 `launch: 'no-such-program-xyz' (timeout=2)` "
                                  "failed: *command not found*")])


PARALLEL = '''
import os, time
from pathlib import Path
import pytest

@pytest.mark.parametrize("n", range(4))
def test_type(ui, tmp_path, n):
    out = tmp_path / "typed.txt"
    ui.launch(["xterm", "-e", "sh", "-c", f"cat > {out}"])
    text = f"worker-{n}-" + "abcdefghijklmnopqrstuvwxyz0123456789" * 3
    ui.type(text + "\\n")
    deadline = time.monotonic() + 15
    while (not out.exists() or not out.read_text().endswith("\\n")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.read_text() == text + "\\n"
    (Path(os.environ["SEEN_DIR"]) / f"display-{n}.txt").write_text(ui.parts.display + " " + os.environ["PYTEST_XDIST_WORKER"])
'''


def test_two_workers_type_side_by_side_without_interfering(pytester: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Four xterms get long distinct texts typed, two at a time on two workers' displays (one
    display per worker, reused by its tests): each file holds exactly its own text."""
    pytester.makepyfile(test_parallel=PARALLEL)
    monkeypatch.setenv("SEEN_DIR", str(pytester.path))
    result = run(pytester, "-n", "2", "--uiagent-display=worker")
    result.assert_outcomes(passed=4)
    seen = [(pytester.path / f"display-{n}.txt").read_text().split() for n in range(4)]
    assert {worker for _, worker in seen} == {"gw0", "gw1"}
    by_worker = {worker: {d for d, w in seen if w == worker} for _, worker in seen}
    assert all(len(displays) == 1 for displays in by_worker.values())  # one display per worker
    assert by_worker["gw0"] != by_worker["gw1"]


JUDGED = f'''
import sys
from pydantic import BaseModel

class Person(BaseModel):
    name: str

class Contact(BaseModel):
    name: str
    email: str

def _fill(ui):
    ui.launch([sys.executable, {str(FORM)!r}])
    ui.press("Tab")
    ui.type("Alice")

def test_check_passes(ui):
    _fill(ui)
    ui.check("the Name field holds Alice")
    assert ui.query(Person) == Person(name="Alice")

def test_check_cites_what_is_not_there(ui):
    _fill(ui)
    ui.check("the Name field holds Bob")

def test_check_model_says_no(ui):
    _fill(ui)
    ui.check("the form was sent")

def test_query_value_not_on_screen(ui):
    _fill(ui)
    ui.query(Contact)
'''


def test_check_and_query_ask_the_model_and_are_cross_checked_by_ocr(pytester: pytest.Pytester) -> None:
    policy = UIPolicy(
        claims={"the Name field holds Alice": {"answer": "yes", "evidence": 'Name: "Alice"'},
                "the Name field holds Bob": {"answer": "yes", "evidence": 'the field reads "Bob"'},
                "the form was sent": {"answer": "no", "evidence": "no confirmation is shown"}},
        queries={"Person": {"name": "Alice"}, "Contact": {"name": "Alice", "email": "alice@example.com"}})
    pytester.makepyfile(test_judged=JUDGED)
    with FakeModelServer(policy=policy) as server:
        result = run(pytester, "--uiagent-model", "openai:gpt-4o", "--uiagent-base-url", server.openai_url)
        judge_calls = [r for r in server.requests if "tools" not in (r.json or {})]
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines([
        "*step 4 ui.check('the Name field holds Bob'): the model says yes, citing 'Bob', but OCR does not see it*",
        "*step 4 ui.check('the form was sent'): the model says no: no confirmation is shown*",
        "*step 4 ui.query(Contact): Contact from openai:gpt-4o: OCR does not see email='alice@example.com'*",
    ])
    assert len(judge_calls) == 5  # never cached: every check and query asks
    assert properties(pytester)["test_check_passes"]["uiagent_model_calls"] == "2"


def test_check_without_a_model_says_how_to_get_one(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    pytester.makepyfile(test_nomodel="def test_c(ui):\n    ui.check('all is well')\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*step 1 ui.check('all is well'): needs a model: run pytest with --uiagent-model*"])
