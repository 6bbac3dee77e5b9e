"""Benchmark: recorder hot path, `uiagent show` on a 100-step 1920x1080 recording, report size and
first render in headless Chromium; `show` time and peak RSS on long recordings.

    python bench/report.py [--steps 100] [--distinct 12 100] [--runs 3]
    python bench/report.py --long 1000 10000 [--long-distinct 200] [--runs 3]   # long recordings only

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

from recording_samples import desktop_frame, write_long_sample, write_sample

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


MEASURE = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def show_long(work: Path, steps: int, distinct: int, runs: int) -> dict[str, object]:
    """`uiagent show` on a `steps`-step 1920x1080 recording over `distinct` real frames: wall time
    and peak RSS (medians), and the checks that the report is whole: every step is in it (a full
    section or a row), within the 20 MB budget."""
    import re

    t0 = time.perf_counter()
    folder = write_long_sample(work / f"long{steps}", steps=steps, distinct=distinct)
    write_s = time.perf_counter() - t0
    exe = Path(sys.executable).parent / "uiagent"
    times, rss = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", MEASURE, str(exe), "show", str(folder)], check=True,
                             capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        rss.append(int(out.stdout.split()[-1]) / 1024)
    html = (folder / "report.html").read_text()
    full = len(re.findall(r'<section class="step', html))
    rows = len(re.findall(r'<tr id="step-', html))
    size = (folder / "report.html").stat().st_size
    assert full + rows == steps and size <= 20_000_000, (full, rows, size)
    return {"steps": steps, "distinct_frames": distinct, "generate_s": round(write_s, 1),
            "show_s": round(statistics.median(times), 2), "show_s_all": [round(t, 2) for t in times],
            "peak_rss_mb": round(statistics.median(rss)), "report_mb": round(size / 1e6, 2),
            "steps_in_full": full, "steps_as_rows": rows, "load_average": round(os.getloadavg()[0], 1)}


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
    parser.add_argument("--long", type=int, nargs="*", default=[], help="step counts of long recordings")
    parser.add_argument("--long-distinct", type=int, default=200)
    args = parser.parse_args()
    if args.long:
        with tempfile.TemporaryDirectory() as tmp:
            long_rows = [show_long(Path(tmp), n, args.long_distinct, args.runs) for n in args.long]
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "report_long.json").write_text(json.dumps(long_rows, indent=2))
        print("| steps | distinct frames | `uiagent show` (wall, median) | peak RSS | report size | in full | as rows "
              "| load average |")
        print("|---|---|---|---|---|---|---|---|")
        for r in long_rows:
            print(f"| {r['steps']} | {r['distinct_frames']} | {r['show_s']} s | {r['peak_rss_mb']} MB "
                  f"| {r['report_mb']} MB | {r['steps_in_full']} | {r['steps_as_rows']} | {r['load_average']} |")
        return
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
