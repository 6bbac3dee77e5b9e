"""Start-up of `uiagent do` (issue 14, part 4): process start -> first model request, per provider.

    python -m bench.startup [--runs 10]      # from the repo root; prints the markdown for BENCHMARKS.md

Each run is a new `uiagent do` process against a local fake server (tests/fakes/model_servers.py)
that answers "done" at once, on one Xvfb display started here, so the network and the display's
start are excluded. The fake server notes when each request arrives; start -> first request is
that instant minus the instant just before the process was spawned (one monotonic clock). Beside
it, per SDK, the wall time of a fresh `python -c "import SDK"` in the same window (the floor no
start-up can beat: the target is that + 0.3 s). Also: `uiagent do` of an offline one-step task,
wall time (target <= 0.8 s), and `uiagent --help` (target <= 300 ms). `--baseline DIR` runs
another checkout's code (its PYTHONPATH) alternately with this one, for a same-window comparison.

Correctness check per run: the run must exit 0 with status done after exactly one model call,
and the request must carry a screenshot of the display's size; a run that did not is an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.display import VirtualDisplay
from tests.fakes.model_servers import (
    FakeModelServer,
    RecordedRequest,
    anthropic_message,
    chat_body,
    chat_tool_call,
    output_message,
    request_images,
    responses_body,
    text_block,
)

SIZE = (1280, 800)


def _anthropic(_: RecordedRequest) -> dict[str, Any]:
    return anthropic_message(text_block("Nothing to do."))


def _cua(_: RecordedRequest) -> dict[str, Any]:
    return responses_body(output_message("Nothing to do."), model="gpt-5.4")


def _chat(_: RecordedRequest) -> dict[str, Any]:
    return chat_body(tool_calls=[chat_tool_call("done", {"summary": "nothing to do"})])


def _uitars(_: RecordedRequest) -> dict[str, Any]:
    return chat_body("Thought: nothing to do.\nAction: finished(content='nothing')", model="ui-tars-1.5-7b")


# (model spec, SDK, the fake server's base URL attribute, the policy that ends the run at once)
PROVIDERS: list[tuple[str, str, str, Callable[[RecordedRequest], dict[str, Any]]]] = [
    ("anthropic:claude-sonnet-4-6", "anthropic", "url", _anthropic),
    ("openai-cua:gpt-5.4", "openai", "openai_url", _cua),
    ("openai:gpt-4o", "openai", "openai_url", _chat),
    ("openai:Qwen/Qwen2.5-VL-7B-Instruct", "openai", "openai_url", _chat),
    ("ui-tars:ui-tars-1.5-7b", "openai", "openai_url", _uitars),
]


def uiagent() -> str:
    return shutil.which("uiagent") or str(Path(sys.executable).parent / "uiagent")


def sdk_import_s(sdk: str) -> float:
    """Wall time of a fresh interpreter that imports `sdk` and exits."""
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", f"import {sdk}"], check=True)
    return time.monotonic() - t0


def first_request_s(spec: str, url: str, server: FakeModelServer, env: dict[str, str], record_dir: str) -> float:
    """One `uiagent do` run: seconds from spawning it to its first request at the server."""
    before = len(server.requests)
    t0 = time.monotonic()
    done = subprocess.run([uiagent(), "do", "look at the screen", "--model", spec, "--base-url", url,
                           "--record-dir", record_dir, "--json"], env=env, capture_output=True, text=True,
                          timeout=120)
    requests = server.requests[before:]
    summary = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    if done.returncode != 0 or summary.get("status") != "done" or len(requests) != 1:
        raise RuntimeError(f"{spec}: exit {done.returncode}, {len(requests)} requests: {done.stderr.strip()[-400:]}")
    images = request_images(requests[0].json)
    if not images:
        raise RuntimeError(f"{spec}: the request carried no screenshot")
    return requests[0].received - t0


def offline_s(env: dict[str, str], record_dir: str) -> float:
    t0 = time.monotonic()
    done = subprocess.run([uiagent(), "do", "wait 0.1 seconds", "--model", "offline", "--record-dir", record_dir,
                           "--json"], env=env, capture_output=True, text=True, timeout=120)
    wall = time.monotonic() - t0
    summary = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    if done.returncode != 0 or summary.get("reason") != "all 1 steps done":
        raise RuntimeError(f"offline: exit {done.returncode}, {summary}: {done.stderr.strip()[-400:]}")
    return wall


def help_s() -> float:
    t0 = time.monotonic()
    subprocess.run([uiagent(), "--help"], check=True, capture_output=True)
    return time.monotonic() - t0


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000)


def main(runs: int = 10, only: str | None = None, baseline: str | None = None) -> dict[str, Any]:
    load = os.getloadavg()[0]
    out: dict[str, Any] = {"runs": runs, "load_1min_before": round(load, 2), "providers": {}}
    with VirtualDisplay(size=SIZE, window_manager=True) as vd, FakeModelServer() as server, \
            tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **vd.env, "ANTHROPIC_API_KEY": "bench", "OPENAI_API_KEY": "bench"}
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        sdk_times: dict[str, list[float]] = {}
        for spec, sdk, url_attr, policy in PROVIDERS:
            if only and only not in spec:
                continue
            server.policy = policy
            starts, imports, base = [], [], []
            for _ in range(runs):  # interleaved, so all see the same load
                starts.append(first_request_s(spec, getattr(server, url_attr), server, env, tmp))
                imports.append(sdk_import_s(sdk))
                if baseline:
                    base.append(first_request_s(spec, getattr(server, url_attr), server,
                                                {**env, "PYTHONPATH": baseline}, tmp))
            sdk_times.setdefault(sdk, []).extend(imports)
            first, floor = median_ms(starts), median_ms(imports)
            out["providers"][spec] = {"first_request_ms": first, "max_ms": round(max(starts) * 1000),
                                      "sdk": sdk, "sdk_import_ms": floor, "over_import_ms": first - floor,
                                      "ratio": round(first / floor, 2), "target_ms": floor + 300,
                                      "met": first <= floor + 300}
            if base:
                out["providers"][spec]["baseline_ms"] = median_ms(base)
            print(spec, out["providers"][spec], file=sys.stderr)
        offline, offline_base = [], []
        for _ in range(runs):
            offline.append(offline_s(env, tmp))
            if baseline:
                offline_base.append(offline_s({**env, "PYTHONPATH": baseline}, tmp))
        out["offline_one_step_ms"] = {"median": median_ms(offline), "max": round(max(offline) * 1000),
                                      "target": 800, "met": median_ms(offline) <= 800}
        if offline_base:
            out["offline_one_step_ms"]["baseline"] = median_ms(offline_base)
        helps = [help_s() for _ in range(runs)]
        out["help_ms"] = {"median": median_ms(helps), "max": round(max(helps) * 1000)}
    out["load_1min_after"] = round(os.getloadavg()[0], 2)
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = ["| provider | start -> first request (median) | max | baseline (median) | SDK import (fresh python) | "
             "over import | ratio | target (import + 300 ms) |", "|---|---|---|---|---|---|---|---|"]
    for spec, r in result["providers"].items():
        lines.append(f"| `{spec}` | {r['first_request_ms']} ms | {r['max_ms']} ms | {r.get('baseline_ms', '-')} ms "
                     f"| `import {r['sdk']}` {r['sdk_import_ms']} ms | {r['over_import_ms']:+} ms | {r['ratio']} | "
                     f"{'met' if r['met'] else 'NOT met'} |")
    off = result["offline_one_step_ms"]
    lines.append(f"\noffline one-step `uiagent do` wall: median {off['median']} ms (max {off['max']} ms, "
                 f"baseline {off.get('baseline', '-')} ms, "
                 f"target 800 ms: {'met' if off['met'] else 'NOT met'}); `uiagent --help` median "
                 f"{result['help_ms']['median']} ms; {result['runs']} runs each, load "
                 f"{result['load_1min_before']} -> {result['load_1min_after']}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", help="only the provider specs containing this")
    parser.add_argument("--baseline", help="another checkout to compare with (used as its PYTHONPATH)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = main(args.runs, args.only, args.baseline)
    print(json.dumps(result) if args.json else markdown(result))
