"""`uiagent mcp` (not bench/mcp.py: that name would shadow the SDK) on a real display with xcalc, driven by the official MCP client SDK over stdio.

    PYTHONPATH=$PWD .venv/bin/python bench/mcp_tools.py [--clicks 40] [--shots 11] [--starts 5]

- start to ready: spawning `uiagent mcp` until `initialize` is answered (targets <= 1.5 s);
- click by coordinates: the server's own time per call (`timings_ms.server`: from the request
  reaching the tool handler to its reply), less the input itself (XTEST) and the wait for xcalc's
  reaction and stillness (the step's settle phase), all reported by the tool (`timings_ms`); the
  readiness check before the click stays in (median <= 30 ms). The client's share (its SDK, stdio,
  JSON-RPC) is reported beside it;
- screenshot with elements on xcalc: round trip per call after the first (median <= 300 ms).

Each figure comes with its check: the clicks alternate "1" and "AC" at the coordinates of the first
screenshot and the display must read 1 after the last; every screenshot lists xcalc's "=" key.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from agent.display import VirtualDisplay

UIAGENT = str(Path(sys.executable).parent / "uiagent")


def _params(vd: VirtualDisplay, record_dir: str) -> StdioServerParameters:
    return StdioServerParameters(command=UIAGENT, args=["mcp", "--record-dir", record_dir],
                                 env={**os.environ, **vd.env})


def sdk_import(runs: int) -> dict[str, Any]:
    """What `import mcp.server.stdio` alone costs a fresh interpreter: the floor under start to ready."""
    import subprocess

    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mcp.server.stdio"], check=True)
        times.append(time.perf_counter() - t0)
    return {"median_s": round(statistics.median(times), 3), "runs": runs}


async def start_to_ready(vd: VirtualDisplay, record_dir: str, runs: int) -> dict[str, Any]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        async with stdio_client(_params(vd, record_dir)) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            times.append(time.perf_counter() - t0)
            assert init.server_info.name == "uiagent"
    return {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3), "runs": runs}


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result
    data: dict[str, Any] = result.structured_content or {}
    return data


async def calls(vd: VirtualDisplay, record_dir: str, clicks: int, shots: int) -> dict[str, Any]:
    async with stdio_client(_params(vd, record_dir)) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        shot_ms = []
        for _ in range(shots):
            t0 = time.perf_counter()
            data = _structured(await session.call_tool("screenshot", {"elements": True}))
            shot_ms.append((time.perf_counter() - t0) * 1000)
            assert any(e["text"] == "=" for e in data["elements"]), "xcalc's = key not found"
        boxes = {e["text"]: e["box"] for e in data["elements"]}
        centers = {k: ((b[0] + b[2]) // 2, (b[1] + b[3]) // 2) for k, b in boxes.items() if k in ("1", "AC")}
        overhead, ready, trips, client = [], [], [], []
        for i in range(clicks):
            x, y = centers["AC" if i % 2 else "1"]
            t0 = time.perf_counter()
            done = _structured(await session.call_tool("click", {"x": x, "y": y}))
            trip = (time.perf_counter() - t0) * 1000
            t = done["timings_ms"]
            trips.append(trip)
            ready.append(t["ready"])
            overhead.append(t["server"] - t["input"] - t["settle"])   # server side, as the issue counts it
            client.append(trip - t["server"])                          # the client SDK, stdio and JSON-RPC
        last = "AC" if (clicks - 1) % 2 else "1"
        found = _structured(await session.call_tool("find_text", {"text": "1"}))
        reads_one = sum(m["text"].strip() == "1" for m in found["matches"]) == 2  # the key and the display
        assert reads_one == (last == "1"), f"the display does not read what the clicks typed ({found})"
    warm = shot_ms[1:]
    return {"click_overhead": {"median_ms": round(statistics.median(overhead), 1),
                               "p90_ms": round(statistics.quantiles(overhead, n=10)[-1], 1),
                               "ready_check_median_ms": round(statistics.median(ready), 1),
                               "round_trip_median_ms": round(statistics.median(trips), 1),
                               "client_and_transport_median_ms": round(statistics.median(client), 1),
                               "clicks": clicks},
            "screenshot_elements": {"first_ms": round(shot_ms[0], 1), "median_after_first_ms":
                                    round(statistics.median(warm), 1), "max_after_first_ms": round(max(warm), 1),
                                    "calls": shots}}


def main(clicks: int, shots: int, starts: int) -> dict[str, Any]:
    with VirtualDisplay(size=(1600, 1000), window_manager=True) as vd, TemporaryDirectory() as rec:
        vd.launch_app("xcalc -geometry +300+120")
        out: dict[str, Any] = {"load_average_before": round(os.getloadavg()[0], 2)}
        out["start_to_ready"] = anyio.run(start_to_ready, vd, rec, starts)
        out["sdk_import_alone"] = sdk_import(starts)
        out.update(anyio.run(calls, vd, rec, clicks, shots))
        out["load_average_after"] = round(os.getloadavg()[0], 2)
        return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=40)
    parser.add_argument("--shots", type=int, default=11)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps({"mcp": main(args.clicks, args.shots, args.starts)}, indent=1))
