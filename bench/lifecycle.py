"""Nothing left running (issue 15): what dying with uiagent costs and how fast it happens.

    python bench/lifecycle.py [--runs 5] [--spawns 200]

- `popen` (PR_SET_PDEATHSIG in the child) against a plain `subprocess.Popen`, starting `true`:
  median ms from start to exit, each child checked to exit 0; with a `preexec_fn` (the fallback);
  and from a worker thread (the spawner hop).
- `uiagent do --virtual --launch xcalc` killed with SIGKILL once its first step is recorded: ms
  until the last process of its tree (Xvfb, openbox, bwrap, xcalc) is gone, each run checked to
  leave none (the test allows 2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from agent.children import _prctl, die_with_parent, popen
from tests.display.test_lifecycle import BUSY, UIAGENT, descendants, still_running


def spawn_ms(start: object, n: int) -> float:
    """Median ms from the start to the exit of `true` (setpriv's own exec included), exit 0 checked."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        proc = start()  # type: ignore[operator]
        assert proc.wait() == 0
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 3)


def threaded(n: int) -> float:
    out: list[float] = []
    t = threading.Thread(target=lambda: out.append(spawn_ms(lambda: popen(["true"]), n)))
    t.start()
    t.join()
    return out[0]


def kill_to_gone_ms() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "rec"
        env = {**os.environ, "HOME": tmp}
        env.pop("DISPLAY", None)
        proc = subprocess.Popen([UIAGENT, "do", BUSY, "--virtual", "--launch", "xcalc", "--record-dir", str(rec)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not any(p.read_text() for p in rec.glob("*/steps.jsonl")):
            time.sleep(0.05)
        tree = descendants(proc.pid)
        assert len(still_running(tree)) >= 4, still_running(tree)
        t0 = time.perf_counter()
        proc.kill()
        proc.wait()
        while still_running(tree):
            assert time.perf_counter() - t0 < 10, still_running(tree)
            time.sleep(0.005)
        return (time.perf_counter() - t0) * 1000


def main(runs: int, spawns: int) -> dict[str, object]:
    spawns_ms = {"spawn_plain_ms": spawn_ms(lambda: subprocess.Popen(["true"]), spawns),
                 "spawn_pdeathsig_setpriv_ms": spawn_ms(lambda: popen(["true"]), spawns),
                 "spawn_pdeathsig_preexec_ms": spawn_ms(lambda: subprocess.Popen(
                     ["true"], preexec_fn=die_with_parent(os.getpid(), _prctl())), spawns),
                 "spawn_pdeathsig_from_thread_ms": threaded(spawns)}
    kills = [kill_to_gone_ms() for _ in range(runs)]
    return {"load_average": round(os.getloadavg()[0], 2), **spawns_ms,
            "sigkill_to_tree_gone_ms": {"median": round(statistics.median(kills)), "max": round(max(kills)),
                                        "runs": runs}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spawns", type=int, default=200)
    args = parser.parse_args()
    sys.stdout.write(json.dumps({"lifecycle": main(args.runs, args.spawns)}) + "\n")
