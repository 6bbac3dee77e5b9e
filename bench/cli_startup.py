"""Cold start of `uiagent --help` (a new process each run). Target: median <= 300 ms.

    python bench/cli_startup.py
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main(runs: int = 15) -> dict[str, float]:
    exe = shutil.which("uiagent") or str(Path(sys.executable).parent / "uiagent")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1), "runs": runs}


if __name__ == "__main__":
    print(json.dumps({"cli_help_cold_start": main()}))
