"""`uiagent record`: CPU while the user is idle, and capture latency per event.

    python bench/record.py [--idle-s 10] [--clicks 30]

Starts a private Xvfb (+ openbox, an xterm), runs `uiagent record` (labels on, as a user would) in
its own process, waits for its ready line, then
- idle CPU: the recorder's user+system CPU time (from /proc) over `idle_s` seconds with no input,
  as a percentage of one core. Target <= 5 %.
- capture latency: xdotool clicks at distinct points (so none merge); each step's
  `durations.capture` is the time from the event reaching the recorder to its frame being grabbed.
  Target: median <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.display import VirtualDisplay
from agent.recording.format import load_recording


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(idle_s: float = 10.0, clicks: int = 30) -> dict[str, float]:
    exe = str(Path(sys.executable).parent / "uiagent")
    with VirtualDisplay() as vd, tempfile.TemporaryDirectory() as out:
        vd.launch(["xterm", "-T", "work", "-geometry", "100x40+0+0"])
        vd.wait_for_window(name="work")
        env = {k: v for k, v in vd.env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
        proc = subprocess.Popen([exe, "record", "--out", out], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
        assert line.startswith("recording to"), line
        folder = Path(line.split()[2].rstrip(";"))
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(idle_s)
        idle_pct = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0) * 100
        for i in range(clicks):
            x, y = 40 + (i % 10) * 60, 40 + (i // 10) * 60
            subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], env=env, check=True)
            time.sleep(0.05)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len((folder / "steps.jsonl").read_text().splitlines()) < clicks:
            time.sleep(0.2)
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+r"], env=env, check=True)
        proc.communicate(timeout=60)
        steps = load_recording(folder).steps
    latency = sorted(s.durations.capture for s in steps)
    return {"idle_cpu_pct_of_one_core": round(idle_pct, 2), "idle_s": idle_s,
            "capture_latency_median_ms": round(statistics.median(latency), 2),
            "capture_latency_p95_ms": round(latency[int(len(latency) * 0.95) - 1], 2),
            "capture_latency_max_ms": round(latency[-1], 2), "clicks": len(latency)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument("--clicks", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps({"record": main(args.idle_s, args.clicks)}))
