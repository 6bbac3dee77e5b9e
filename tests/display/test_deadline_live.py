"""`uiagent do --virtual --timeout 20` against model servers that stall (issue 15): the real CLI, the
real SDKs over HTTP, a real virtual display. Each run ends within 25 s with the right exit code,
one line saying why (no traceback), and an outcome that counts the model requests made."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.recording.format import load_recording
from tests.conftest import json_summary, run_cli
from tests.fakes.model_servers import (
    FakeModelServer,
    Reply,
    anthropic_message,
    chat_body,
    huge_reply,
    never_reply,
    retry_after_reply,
)

MODELS = {"anthropic": "anthropic:claude-haiku-4-5", "openai": "openai:gpt-4o"}
EMPTY = {"anthropic": anthropic_message(), "openai": chat_body(content="")}


def stalling(fault: str, provider: str) -> Reply | dict:
    return {"never": never_reply(), "retry-after": retry_after_reply(3600), "huge": huge_reply(100_000_000),
            "empty": EMPTY[provider]}[fault]


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer() as s:
        yield s


# fault: (exit code, what the one line says, model requests made)
EXPECTED = {
    "never": (3, "timed out after 20 s (--timeout): no answer from", 1),
    "retry-after": (4, "the model server asked to retry after 3600 s; ", 1),
    "huge": (4, "is larger than 1 MB", 1),
    "empty": (4, "empty answers after 2 re-asks (the answer was empty: no text and no tool call)", 3),
}


# Each fault once on a real display, the two providers in turn; every fault with every planner is
# tests/unit/planners/test_deadline_requests.py (the same SDKs and retry loop, no display).
@pytest.mark.parametrize("fault, provider", [("never", "anthropic"), ("retry-after", "openai"), ("huge", "openai"),
                                             ("empty", "anthropic")])
def test_a_stalling_model_server_ends_the_run_in_time(server: FakeModelServer, tmp_path: Path, fault: str,
                                                      provider: str) -> None:
    server.policy = lambda request: stalling(fault, provider)
    url = server.url if provider == "anthropic" else server.openai_url
    started = time.monotonic()
    r = run_cli("do", "click the pad", "--virtual", "--model", MODELS[provider], "--base-url", url, "--timeout", "20",
                "--record-dir", str(tmp_path / "rec"), "--json",
                env={"ANTHROPIC_API_KEY": "test-key", "OPENAI_API_KEY": "test-key"}, timeout=60)
    took = time.monotonic() - started
    code, says, calls = EXPECTED[fault]
    assert r.returncode == code, r.stderr
    assert took < 25, f"{fault}: {took:.1f} s"
    summary = json_summary(r.stdout)
    assert says in summary["reason"] and "\n" not in summary["reason"], summary["reason"]
    assert summary["model_calls"] == calls == server.calls()
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    rec = load_recording(summary["recording"])
    assert rec.session.outcome.reason == summary["reason"] and rec.session.outcome.model_calls == calls
    assert len(rec.steps) == 0  # nothing of a refused answer is stored
    stored = sum(f.stat().st_size for f in Path(summary["recording"]).rglob("*.json*"))
    assert stored < 100_000
