"""Settle latency on a 1920x1080 Xvfb: how long after the screen goes still `settle` returns.

    python bench/perception_settle.py [--runs 15] [--duration 0.3]

The animation app (tests/apps/animate.py) moves a box for `duration` seconds after a click and
records when it drew its last frame; latency = settle's return time - that time (same monotonic
clock). Also: settle on a screen that is already still.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from actions.desktop.x11 import PyAutoGUIDesktop
from actions.executor import Executor
from actions.models import Click
from agent.display import VirtualDisplay
from agent.perception.settle import settle

APPS = Path(__file__).resolve().parent.parent / "tests" / "apps"


def _last(out: Path, kind: str, count: int) -> float | None:
    values = [float(ln.split()[1]) for ln in out.read_text().splitlines() if ln.startswith(kind + " ")]
    return values[-1] if len(values) >= count else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--duration", type=float, default=0.3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    with VirtualDisplay(size=(1920, 1080)) as vd:
        out = Path(vd.env["HOME"]) / "animate.txt"
        vd.launch([sys.executable, str(APPS / "animate.py"), str(out), "--duration", str(args.duration)])
        vd.wait_for_window(name="animate")
        desktop = PyAutoGUIDesktop(vd.display)
        executor = Executor(desktop)
        still = [settle(desktop, timeout_s=5).waited_s * 1000 for _ in range(args.runs)]
        latencies, grabs = [], []
        for i in range(1, args.runs + 1):
            before = desktop.capture()
            executor.execute(Click(x=960, y=540))
            result = settle(desktop, before=before, expect_change_s=1.0, timeout_s=5)
            returned = time.monotonic()
            deadline = time.monotonic() + 5
            while (stop := _last(out, "stop", i)) is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if stop is None or result.timed_out:
                print(f"run {i}: no stop recorded or timed out")
                continue
            latencies.append((returned - stop) * 1000)
            grabs.append(result.grabs)
        desktop.close()
    print(f"settle on a still screen: median {statistics.median(still):.0f} ms, max {max(still):.0f} ms")
    print(f"settle after an animation of {args.duration:g}s: latency after the last frame median "
          f"{statistics.median(latencies):.0f} ms, min {min(latencies):.0f}, max {max(latencies):.0f} "
          f"({len(latencies)} runs; never before the end: {all(v >= 0 for v in latencies)}); "
          f"grabs per settle median {statistics.median(grabs):.0f}")


if __name__ == "__main__":
    main()
