"""Regression UI tests (issue 8): a green cached rerun, and the fixtures' overhead per test.

    python bench/plugin.py [--reruns 5] [--tests 20]

1. A 10-step `ui.do` test on the Tk form app, planned the first time by a real model planner
   (OpenAI chat with marks) talking to the local fake model server; then `--reruns` reruns with
   `--uiagent-cache=read`. Reported: model calls of the first run and of the reruns (counted at the
   server; target 0), and the test's own time (JUnit: setup + call + teardown, display start
   included; target <= 5 s) and the whole pytest process (interpreter and plugin start too).
2. `--tests` empty tests using `uiagent_display` (Xvfb + openbox start/stop) and `ui` (plus the
   desktop backend and the recorder): median time per test (target <= 0.5 s).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.model_servers import FakeModelServer
from tests.plugin.model_policy import UIPolicy

FORM = ROOT / "tests" / "apps" / "form.py"
STEPS = ["press Tab", "type 'Alice'", "press Tab", "type 'alice@example.com'", "press Tab", "type 'Paris'",
         "click Subscribe", "click Submit", "click Clear", "click Submit"]
TEN_STEPS = f"""
import sys

def test_ten_steps(ui):
    ui.launch([sys.executable, {str(FORM)!r}])
""" + "".join(f"    ui.do({s!r})\n" for s in STEPS)
EMPTY = """
import pytest

@pytest.mark.parametrize("n", range({n}))
def test_display(uiagent_display, n):
    assert uiagent_display.display

@pytest.mark.parametrize("n", range({n}))
def test_ui(ui, n):
    assert ui.parts.display
"""


def pytest_run(folder: Path, *args: str) -> tuple[float, dict[str, float]]:
    """Run pytest in `folder`; wall seconds and each test's JUnit time."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=junit.xml", *args],
                       cwd=folder, capture_output=True, text=True, timeout=600, check=False)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"pytest failed in {folder}:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    root = ET.parse(folder / "junit.xml").getroot()
    return wall, {c.get("name", ""): float(c.get("time", "nan")) for c in root.iter("testcase")}


def cached_rerun(reruns: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, FakeModelServer(policy=UIPolicy()) as server:
        folder = Path(tmp)
        (folder / "test_ten.py").write_text(TEN_STEPS)
        model = ("--uiagent-model", "openai:gpt-4o", "--uiagent-base-url", server.openai_url)
        first_wall, first = pytest_run(folder, *model, "--uiagent-cache=write")
        first_calls = server.calls("/v1/chat/completions")
        walls, tests = [], []
        for _ in range(reruns):
            wall, times = pytest_run(folder, *model, "--uiagent-cache=read")
            walls.append(wall)
            tests.append(times["test_ten_steps"])
        return {"steps": len(STEPS), "first_run_model_calls": first_calls,
                "first_run_test_s": round(first["test_ten_steps"], 2), "first_run_wall_s": round(first_wall, 2),
                "rerun_model_calls": server.calls("/v1/chat/completions") - first_calls,
                "rerun_test_s_median": round(statistics.median(tests), 2), "rerun_test_s_max": round(max(tests), 2),
                "rerun_pytest_wall_s_median": round(statistics.median(walls), 2)}


def fixture_overhead(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_empty.py").write_text(EMPTY.format(n=n))
        _, times = pytest_run(folder, "--uiagent-record=off")
        display = [t for name, t in times.items() if name.startswith("test_display")][1:]  # first: imports
        ui = [t for name, t in times.items() if name.startswith("test_ui")][1:]
        return {"tests": n, "uiagent_display_s_median": round(statistics.median(display), 3),
                "uiagent_display_s_max": round(max(display), 3), "ui_s_median": round(statistics.median(ui), 3),
                "ui_s_max": round(max(ui), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--tests", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps({"cached_rerun": cached_rerun(args.reruns), "fixture_overhead": fixture_overhead(args.tests)},
                     indent=1))


if __name__ == "__main__":
    main()
