"""`uiagent do --virtual --timeout T` against model servers that stall (issue 15): how long after the
deadline (or after the server's answer, for servers that end the run early) the process exits.

Each run is checked, not only timed: exit code, the one-line reason and the model requests counted
must be what the server's fault calls for (`ok`). `over_timeout_s` is the process's wall time less
T: an upper bound of deadline -> exit, since it also holds the imports before the deadline starts.
`after_last_request_s` is from the last request reaching the server to the exit.

    .venv/bin/python bench/deadline.py [--timeout 20] [--runs 2] [--providers anthropic,openai]
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.model_servers import (  # noqa: E402
    FakeModelServer,
    anthropic_message,
    chat_body,
    huge_reply,
    never_reply,
    retry_after_reply,
)

MODELS = {"anthropic": "anthropic:claude-haiku-4-5", "openai": "openai:gpt-4o"}
FAULTS: dict[str, tuple[int, str, int]] = {   # exit code, what the reason says, model requests
    "never": (3, "no answer from", 1),
    "retry-after 3600": (4, "asked to retry after 3600 s", 1),
    "100 MB body": (4, "is larger than 1 MB", 1),
    "empty": (4, "empty answers after 2 re-asks", 3),
}


def reply(fault: str, provider: str) -> Any:
    if fault == "never":
        return never_reply()
    if fault == "retry-after 3600":
        return retry_after_reply(3600)
    if fault == "100 MB body":
        return huge_reply(100_000_000)
    return anthropic_message() if provider == "anthropic" else chat_body(content="")


def one_run(fault: str, provider: str, timeout: float) -> dict[str, Any]:
    exe = shutil.which("uiagent") or str(Path(sys.executable).parent / "uiagent")
    with FakeModelServer(policy=lambda request: reply(fault, provider)) as server, \
            tempfile.TemporaryDirectory() as rec:
        url = server.url if provider == "anthropic" else server.openai_url
        env = {**os.environ, "ANTHROPIC_API_KEY": "bench", "OPENAI_API_KEY": "bench"}
        started = time.monotonic()
        r = subprocess.run([exe, "do", "click the pad", "--virtual", "--model", MODELS[provider], "--base-url", url,
                            "--timeout", f"{timeout:g}", "--record-dir", rec, "--json"],
                           capture_output=True, text=True, env=env, timeout=timeout + 60)
        ended = time.monotonic()
        summary = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
        last = server.requests[-1].received if server.requests else None
    code, says, calls = FAULTS[fault]
    ok = (r.returncode == code and says in summary.get("reason", "") and summary.get("model_calls") == calls
          and "Traceback" not in r.stderr)
    return {"wall_s": ended - started, "after_last_request_s": ended - last if last is not None else None,
            "ok": ok, "exit": r.returncode, "reason": summary.get("reason", r.stderr.strip()[-200:])}


def main(timeout: float, runs: int, providers: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"timeout_s": timeout, "load_before": os.getloadavg()[0]}
    for provider in providers:
        for fault in FAULTS:
            done = [one_run(fault, provider, timeout) for _ in range(runs)]
            walls = [d["wall_s"] for d in done]
            after = [d["after_last_request_s"] for d in done if d["after_last_request_s"] is not None]
            out[f"{provider} / {fault}"] = {
                "ok": sum(d["ok"] for d in done), "runs": runs, "exit": sorted({d["exit"] for d in done}),
                "wall_median_s": round(statistics.median(walls), 2), "wall_max_s": round(max(walls), 2),
                "over_timeout_max_s": round(max(walls) - timeout, 2),
                "after_last_request_median_s": round(statistics.median(after), 2) if after else None,
                "reason": done[-1]["reason"][:160]}
    out["load_after"] = os.getloadavg()[0]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--providers", default="anthropic,openai")
    args = parser.parse_args()
    print(json.dumps({"deadline": main(args.timeout, args.runs, args.providers.split(","))}, indent=1))
