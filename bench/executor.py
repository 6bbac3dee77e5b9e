"""Executor overhead per action: validation, guards and dispatch, the input itself excluded.

    python bench/executor.py

Runs a realistic mix of actions through `Executor` on a `FakeDesktop` (whose input methods only
append to a list), so what is timed is our own work per action. Target: median <= 1 ms.
"""

from __future__ import annotations

import json
import statistics
import time

from actions.desktop.fake import FakeDesktop
from actions.executor import Executor
from actions.models import Click, Drag, Key, Move, Point, Scroll, Type
from actions.policy import Policy


def main(rounds: int = 3000) -> dict[str, float]:
    desktop = FakeDesktop(size=(1920, 1080))
    executor = Executor(desktop, Policy(max_actions=10**9))
    mix = [Click(x=500, y=400), Type(text="echo hello world > /tmp/file.txt"), Key(chord="ctrl+s"),
           Scroll(x=10, y=10, dy=3), Drag(path=(Point(x=1, y=1), Point(x=300, y=300))), Move(x=9, y=9),
           {"kind": "click", "x": 100, "y": 100, "button": "right"}]  # a raw dict: validation included
    times = []
    for i in range(rounds):
        action = mix[i % len(mix)]
        t0 = time.perf_counter()
        executor.execute(action)
        times.append((time.perf_counter() - t0) * 1000)
        desktop.calls.clear()
    times.sort()
    return {"median_ms": round(statistics.median(times), 4), "p95_ms": round(times[int(len(times) * 0.95)], 4),
            "actions": rounds}


if __name__ == "__main__":
    print(json.dumps({"executor_overhead": main()}))
