"""Replay throughput with verification, on a 1920x1080 screen and an app that reacts at once.

    python bench/replay.py [--clicks 30] [--runs 3]

Starts a private Xvfb at 1920x1080 (+ openbox) with `tests/apps/clickpad.py --grid` (a full-screen
canvas of numbered boxes that logs every click and does not redraw), records `clicks` clicks on the
boxes with the agent loop (scripted planner: each click gets its target crop, 64x64 around the
point), then replays that recording `runs` times with `replay_recording` (verification on: settle,
crop match, act through the executor, record the replay). Reports replayed steps per second
(median over runs; target >= 5), and the cost of `verify_target` alone at 1920x1080: at the same
place, moved by 150 px (window search) and moved by 700 px (whole screen, downscaled).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from actions.models import Click
from agent.display import VirtualDisplay
from agent.planners.scripted import ScriptedPlanner
from agent.recording.format import load_recording
from agent.replay.playback import replay_recording
from agent.replay.recorded import ReplayOptions
from agent.run.wiring import run_agent
from agent.settings import Settings
from tests.conftest import wait_until

CLICKPAD = Path(__file__).resolve().parent.parent / "tests" / "apps" / "clickpad.py"


def points(n: int, size: tuple[int, int]) -> list[tuple[int, int]]:
    w, h = size
    return [(60 + (i % 10) * (w - 120) // 10 + 45, 60 + (i // 10 % 6) * (h - 120) // 6 + 20) for i in range(n)]


def verify_costs(recording_folder: Path) -> dict[str, float]:
    from actions.desktop.base import Screenshot
    from agent.perception.verify import verify_target

    rec = load_recording(recording_folder)
    click = rec.steps[0].actions[0]
    crop = Image.open(rec.crop_path(click.target.crop_hash)).convert("RGB")  # type: ignore[union-attr]
    screen = Image.open(rec.frame_path(rec.steps[0].frame_before)).convert("RGB")
    out: dict[str, float] = {}
    for name, (dx, dy) in {"same place": (0, 0), "moved 150 px": (150, 90), "moved 700 px": (700, 400)}.items():
        shifted = Image.new("RGB", screen.size, "white")
        shifted.paste(screen, (dx, dy))
        shot = Screenshot(image=shifted)
        verify_target(click, crop, shot)
        t0 = time.perf_counter()
        for _ in range(10):
            v = verify_target(click, crop, shot)
        assert v.ok and v.moved_by == (dx, dy), v.reason
        out[name] = round((time.perf_counter() - t0) / 10 * 1000, 1)
    return out


def main(clicks: int = 30, runs: int = 3) -> dict[str, object]:
    size = (1920, 1080)
    with VirtualDisplay(size=size) as vd, tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "clicks.txt"
        vd.launch([sys.executable, str(CLICKPAD), str(log), "--grid"])
        wait_until(lambda: log.exists() and "ready" in log.read_text(), what="clickpad")
        vd.wait_for_window(name="clickpad")
        settings = Settings(record_dir=Path(tmp) / "rec", max_steps=clicks + 5, failsafe=False)
        planner = ScriptedPlanner([[Click(x=x, y=y)] for x, y in points(clicks, size)] + [[]])
        first = run_agent("click the boxes", settings, vd.display, planner)
        assert first.folder is not None
        rec = load_recording(first.folder)
        rates, durations = [], []
        for _ in range(runs):
            before = log.read_text().count("click")
            t0 = time.perf_counter()
            result = replay_recording(rec, display=vd.display, settings=settings.model_copy(
                update={"record_dir": Path(tmp) / "replays"}), options=ReplayOptions())
            elapsed = time.perf_counter() - t0
            assert result.status == "done", result.reason
            assert log.read_text().count("click") - before == clicks
            durations.append(elapsed)
            rates.append(clicks / elapsed)
        return {"screen": f"{size[0]}x{size[1]}", "clicks": clicks, "runs": runs,
                "steps_per_s_median": round(statistics.median(rates), 2),
                "steps_per_s_all": [round(r, 2) for r in rates],
                "replay_s_median": round(statistics.median(durations), 2),
                "verify_ms": verify_costs(first.folder)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(main(args.clicks, args.runs), indent=2))
