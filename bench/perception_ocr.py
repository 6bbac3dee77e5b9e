"""OCR timings on a 1920x1080 Xvfb scene (xcalc, galculator, the Tk form, an xterm):
engine load, full frame cold (no cache), and steps where a small part of the screen changed
(a click on a calculator key or a line typed into xterm), read through the region cache.

    python bench/perception_ocr.py [--rec-width 96] [--runs 3] [--steps 10]

Wall times are medians; CPU time (all threads) is printed too, since other processes on a shared
machine inflate wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from perception_scene import scene

from actions.executor import Executor
from actions.models import Click, Type
from agent.perception.ocr import RapidOcrEngine, find
from agent.perception.ocr_cache import OcrReader
from agent.perception.regions import area
from agent.perception.settle import settle


def timed(fn):  # type: ignore[no-untyped-def]
    w, c = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rec-width", type=int, default=96)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    engine = RapidOcrEngine(rec_width=args.rec_width)
    _, load_s, _ = timed(engine.load)
    print(f"load average {os.getloadavg()[0]:.2f}; engine import+load {load_s:.2f}s (rec_width {args.rec_width})")
    with scene() as s:
        shot = s.desktop.capture()
        fulls = [timed(lambda: OcrReader(engine).read(shot)) for _ in range(args.runs)]
        result = fulls[-1][0]
        print(f"full frame cold: median {statistics.median(f[1] for f in fulls):.2f}s wall, "
              f"{statistics.median(f[2] for f in fulls):.2f}s CPU; {len(result.lines)} lines in "
              f"{len(result.regions)} regions ({sum(map(area, result.regions)) / (1920 * 1080):.0%} of the screen)")
        reader = OcrReader(engine)
        reader.read(shot)
        elements = result.elements()
        steps = _steps(elements, s.windows["xterm"])
        executor = Executor(s.desktop)
        walls, cpus, fractions = [], [], []
        for i in range(args.steps):
            executor.execute(steps[i % len(steps)])
            settled = settle(s.desktop, timeout_s=3)
            res, wall, cpu = timed(lambda: reader.read(settled.screenshot))
            walls.append(wall)
            cpus.append(cpu)
            fractions.append(sum(map(area, res.regions)) / (1920 * 1080))
        print(f"step (<=10% changed): median {statistics.median(walls) * 1000:.0f} ms wall, "
              f"{statistics.median(cpus) * 1000:.0f} ms CPU; max {max(walls) * 1000:.0f} ms; OCR'd area "
              f"median {statistics.median(fractions):.1%}, max {max(fractions):.1%} of the screen")


def _steps(elements, xterm):  # type: ignore[no-untyped-def]
    actions = []
    for label in ("7", "8", "9", "4", "5"):
        m = find(elements, label)
        for c in m.candidates[:2]:
            actions.append(Click(x=c.element.box.center.x, y=c.element.box.center.y))
    actions.insert(2, Click(x=xterm.left + xterm.width // 2, y=xterm.top + xterm.height // 2))
    actions.insert(3, Type(text="echo step\n"))
    return actions


if __name__ == "__main__":
    main()
