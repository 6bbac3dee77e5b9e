"""Numbers a model reads off the screen are checked by OCR of a zoomed crop, on a real xcalc: a
model (the real OpenAI SDK against the local fake server) computes 6 * 7 by clicking marked keys,
then states the result. A wrong number is sent back to it as a note; the right one is confirmed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.display import VirtualDisplay
from agent.recording.format import load_recording
from tests.conftest import json_summary, run_cli
from tests.fakes.model_servers import FakeModelServer, RecordedRequest, chat_body, chat_tool_call

pytestmark = pytest.mark.display
KEYS = ("6", "*", "7", "=")


def calculating(claim: str) -> Callable[[RecordedRequest], dict]:
    """A model that clicks 6 * 7 = by their marks, then says `claim` (every time it is asked again)."""
    calls = [0]

    def policy(request: RecordedRequest) -> dict:
        calls[0] += 1
        if calls[0] > len(KEYS):
            return chat_body(tool_calls=[chat_tool_call("done", {"summary": claim})])
        key = re.escape(KEYS[calls[0] - 1])
        mark = re.search(r'\[(\d+)\] push button \\"' + key + r'\\"', json.dumps(request.json))
        assert mark, f"the legend lists the key {KEYS[calls[0] - 1]!r} as a button"
        return chat_body(tool_calls=[chat_tool_call("click", {"mark": int(mark.group(1))})])
    return policy


@pytest.fixture
def xcalc(vdisplay: VirtualDisplay) -> Iterator[None]:
    vdisplay.launch_app(["xcalc", "-geometry", "+300+100"])
    yield


def run(vdisplay: VirtualDisplay, server: FakeModelServer, tmp_path: Path) -> dict[str, object]:
    r = run_cli("do", "compute 6 times 7 on the calculator", "--model", "openai:gpt-4o", "--base-url",
                server.openai_url, "--record-dir", str(tmp_path), "--json",
                env={**vdisplay.env, "OPENAI_API_KEY": "test-key"}, timeout=150)
    assert r.returncode == 0, r.stderr
    return json_summary(r.stdout)


def test_a_wrong_number_is_flagged_and_sent_back_to_the_model(vdisplay: VirtualDisplay, xcalc: None,
                                                               tmp_path: Path) -> None:
    with FakeModelServer(policy=calculating("The display shows 41.")) as server:
        summary = run(vdisplay, server, tmp_path)
        asked_again = json.dumps(server.requests[-1].json)
    steps = load_recording(str(summary["recording"])).steps
    flagged = [n for s in steps for n in s.notes if n.startswith("you state 41, but OCR of a 3x zoom")]
    assert len(flagged) == 2 and "reads '42'" in flagged[0], [s.notes for s in steps]
    assert "you state 41, but OCR of a 3x zoom" in asked_again  # the note reached the model's next turn
    assert summary["status"] == "done" and "(not confirmed on screen: you state 41" in str(summary["reason"])
    assert summary["model_calls"] == len(KEYS) + 2  # one more turn after the first done, then it ended


def test_the_right_number_is_confirmed(vdisplay: VirtualDisplay, xcalc: None, tmp_path: Path) -> None:
    with FakeModelServer(policy=calculating("The display shows 42.")) as server:
        summary = run(vdisplay, server, tmp_path)
    steps = load_recording(str(summary["recording"])).steps
    assert summary["status"] == "done" and summary["reason"] == "The display shows 42."
    assert summary["model_calls"] == len(KEYS) + 1
    assert any(n.startswith("42 confirmed by OCR of a 3x zoom") for n in steps[-1].notes), steps[-1].notes
