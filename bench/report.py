"""Benchmark: recorder hot path, `uiagent show` on a 100-step 1920x1080 recording, report size and
first render in headless Chromium.

    python bench/report.py [--steps 100] [--distinct 12 100] [--runs 3]

Prints a Markdown table (paste into BENCHMARKS.md) and writes bench/results/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from recording_samples import desktop_frame, write_sample

from agent.recording.format import Session, Step, utc_now
from agent.recording.writer import FolderRecorder

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def hot_path(folder: Path, n: int = 20) -> dict[str, float]:
    """Median ms on the caller, as the loop uses the recorder: add_frame(before), think, add_frame(after),
    append(step) (which waits for the just-added frame_after to be encoded)."""
    frames = [desktop_frame(100 + i) for i in range(n + 1)]
    add, append = [], []
    with FolderRecorder(folder) as rec:
        rec.start(Session(task="hot path"))
        before = rec.add_frame(frames[0])
        for i in range(n):
            time.sleep(0.2)  # the planner thinks; the encoder works meanwhile
            t0 = time.perf_counter()
            after = rec.add_frame(frames[i + 1])
            t1 = time.perf_counter()
            rec.append(Step(index=i, started=utc_now(), ended=utc_now(), frame_before=before, frame_after=after))
            t2 = time.perf_counter()
            add.append((t1 - t0) * 1000)
            append.append((t2 - t1) * 1000)
            before = after
    return {"add_frame_ms": round(statistics.median(add), 1), "append_ms": round(statistics.median(append), 1)}


def time_show(folder: Path, runs: int) -> tuple[float, int]:
    exe = Path(sys.executable).parent / "uiagent"
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([str(exe), "show", str(folder)], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), (folder / "report.html").stat().st_size


def first_render(report: Path, runs: int, home: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "c"), "XDG_CACHE_HOME": str(home / "k")}
    loads, paints = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, env=env)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(report.as_uri(), wait_until="load")
            page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
            nav = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
            fcp = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
            loads.append(json.loads(nav)["loadEventEnd"])
            paints.append(fcp)
            page.close()
        browser.close()
    return {"load_ms": round(statistics.median(loads)), "first_paint_ms": round(statistics.median(paints))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--distinct", type=int, nargs="+", default=[12, 100])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results["hot_path"] = hot_path(work / "hot")
        rows = []
        for distinct in args.distinct:
            t0 = time.perf_counter()
            folder = write_sample(work / f"d{distinct}", steps=args.steps, distinct=distinct)
            write_s = time.perf_counter() - t0
            show_s, size = time_show(folder, args.runs)
            render = first_render(folder / "report.html", args.runs, work / "home")
            frames = sum(f.stat().st_size for f in (folder / "frames").iterdir())
            rows.append({"steps": args.steps, "distinct_frames": distinct, "write_s": round(write_s, 2),
                         "frames_mb": round(frames / 1e6, 1), "show_s": round(show_s, 2),
                         "report_mb": round(size / 1e6, 2), **render})
        results["reports"] = rows
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(results, indent=2))
    hp = results["hot_path"]
    print(f"recorder (1920x1080 PNG): add_frame {hp['add_frame_ms']} ms, "  # type: ignore[index]
          f"append incl. waiting for frame_after {hp['append_ms']} ms (medians)")  # type: ignore[index]
    print("| steps | distinct frames | frames on disk | `uiagent show` | report size | load event | first paint |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['steps']} | {r['distinct_frames']} | {r['frames_mb']} MB | {r['show_s']} s | {r['report_mb']} MB "
              f"| {r['load_ms']} ms | {r['first_paint_ms']} ms |")


if __name__ == "__main__":
    main()
