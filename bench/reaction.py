"""Reaction waits (issue 13), through the real loop, desktop, settle and recorder on Xvfb.

    python bench/reaction.py [--runs 20] [--rounds 3]

(a) Overhead on an app that reacts at once: a scripted planner clicks xcalc's digit keys
    (1..9, 0; positions found by OCR once), `--rounds` times; per action, the step's settle time
    (reaction wait + stillness) with reaction waits on, and with them off (deadline 0: plain
    settle, as before issue 13). Target: median <= 80 ms. The display must read 1234567890 (OCR).
(b) The delayed form (tests/apps/delayed.py) at 100/400/900 ms: a planner that acts like a model
    clicks Submit, and on its next turn answers done if the screenshot it was given shows the
    reaction (the status label changed), else clicks again. Double submissions in `--runs` runs
    per delay, with reaction waits on (target 0) and off (`--runs-off`, the old behaviour).
Prints JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from actions.models import Click, Done
from agent.display import VirtualDisplay
from agent.perception.observation import Observation
from agent.perception.reaction import ReactionSettings
from agent.planners.base import HistoryItem, Turn
from agent.planners.scripted import ScriptedPlanner
from agent.recording.format import load_recording
from agent.run.wiring import ocr_engine, run_agent
from agent.settings import Settings

APPS = Path(__file__).resolve().parent.parent / "tests" / "apps"
DIGITS = "1234567890"
_ocr = functools.cache(ocr_engine)  # one engine (its models load once), made on first use


def _settings(rec_dir: str, steps: int, deadline: float) -> Settings:
    return Settings(record_dir=Path(rec_dir), max_steps=steps, reaction=ReactionSettings(deadline_s=deadline),
                    guards={"confirm": "never", "max_actions": 10_000, "scan_screen_text": False})


def _keys(vd: VirtualDisplay) -> dict[str, tuple[int, int]]:
    """xcalc's digit keys, by OCR (the lowest text of each digit: the key, not the display)."""
    from actions.desktop.x11 import PyAutoGUIDesktop
    from agent.perception.perceiver import ScreenPerceiver
    from agent.perception.settle import settle

    desktop = PyAutoGUIDesktop(vd.display)
    settle(desktop, timeout_s=5)
    elements = ScreenPerceiver(desktop, ocr=_ocr()).observe().elements
    desktop.close()
    keys = {}
    for d in DIGITS:
        hits = sorted((e for e in elements if e.text == d), key=lambda e: -e.box.top)
        assert hits, f"OCR found no key {d}"
        keys[d] = (hits[0].box.center.x, hits[0].box.center.y)
    return keys


def overhead(rounds: int, deadline: float) -> dict[str, object]:
    settle_ms: list[float] = []
    shown = []
    for _ in range(rounds):  # a fresh calculator each round
        with VirtualDisplay(size=(1280, 800)) as vd, tempfile.TemporaryDirectory() as rec_dir:
            vd.launch_app(["xcalc", "-geometry", "+400+100"])
            keys = _keys(vd)
            turns: list[list[Click | Done]] = [[Click(x=keys[d][0], y=keys[d][1])] for d in DIGITS] + [[Done()]]
            result = run_agent("bench", _settings(rec_dir, len(turns) + 1, deadline), vd.display,
                               ScriptedPlanner(turns))
            rec = load_recording(result.folder)  # type: ignore[arg-type]
            settle_ms += [s.durations.settle for s in rec.steps if s.actions and s.actions[0].kind == "click"]
            shown.append(_read_display(rec))
    return {"actions": len(settle_ms), "settle_median_ms": round(statistics.median(settle_ms), 1),
            "settle_p90_ms": round(sorted(settle_ms)[int(len(settle_ms) * 0.9)], 1),
            "display_right": all(DIGITS in s for s in shown), "display_read": shown}


def _read_display(rec: object) -> str:
    """The calculator's display after the last click, by OCR of that step's frame."""
    from PIL import Image

    last = rec.steps[-2]  # type: ignore[attr-defined]
    image = Image.open(rec.frame_path(last.frame_after)).convert("RGB")  # type: ignore[attr-defined]
    texts = [line.text.replace(" ", "") for line in _ocr().read(image)]
    return max(texts, key=lambda t: sum(c.isdigit() for c in t)) if texts else ""


class SubmitOnce:
    """Click Submit; next turn: done if the frame shows the status label changed, else click again."""

    def __init__(self, submit: tuple[int, int], status: tuple[int, int, int, int]) -> None:
        self.submit, self.status = submit, status
        self.first: bytes | None = None

    def __call__(self, obs: Observation, history: Sequence[HistoryItem]) -> Turn:
        label = obs.screenshot.image.crop(self.status).tobytes()
        if self.first is None:
            self.first = label
        elif label != self.first:
            return Turn(actions=(Done(summary="submitted"),))
        return Turn(actions=(Click(x=self.submit[0], y=self.submit[1]),))


def delayed(delay_ms: int, runs: int, deadline: float) -> dict[str, int]:
    with VirtualDisplay(size=(1280, 800)) as vd, tempfile.TemporaryDirectory() as rec_dir:
        out = Path(vd.env["HOME"]) / "delayed.txt"
        vd.launch([sys.executable, str(APPS / "delayed.py"), str(out), "--delay-ms", str(delay_ms)])
        vd.wait_for_window(name="uiagent delayed")
        deadline_at = time.monotonic() + 10
        while "ready" not in (out.read_text() if out.exists() else "") and time.monotonic() < deadline_at:
            time.sleep(0.02)
        boxes = json.loads(next(ln for ln in out.read_text().splitlines() if ln.startswith("widgets "))[8:])
        s = boxes["submit"]
        submit = ((s[0] + s[2]) // 2, (s[1] + s[3]) // 2)
        doubles = 0
        for _ in range(runs):
            count = _submits(out)
            planner = SubmitOnce(submit, tuple(boxes["status"]))
            run_agent("submit", _settings(rec_dir, 6, deadline), vd.display, ScriptedPlanner([planner] * 6))
            time.sleep(delay_ms / 1000 + 0.3)  # let a second click's late reaction land before counting
            doubles += _submits(out) - count > 1
        return {"runs": runs, "double_submissions": doubles}


def _submits(out: Path) -> int:
    return sum(1 for ln in out.read_text().splitlines() if ln.startswith("submit "))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--runs-off", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    report: dict[str, object] = {"load_average": round(os.getloadavg()[0], 2)}
    report["xcalc_reaction_on"] = overhead(args.rounds, 1.0)
    report["xcalc_reaction_off"] = overhead(args.rounds, 0.0)
    for delay in (100, 400, 900):
        report[f"delayed_{delay}ms_on"] = delayed(delay, args.runs, 1.0)
        report[f"delayed_{delay}ms_off"] = delayed(delay, args.runs_off, 0.0)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
