"""`uiagent do` through every model provider, end to end: the real CLI, the real SDKs over HTTP to a
local fake server playing a scripted policy, a real display and app. Clicks must land where the
model pointed on the image it saw."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agent.display import VirtualDisplay
from tests.conftest import run_cli, wait_until
from tests.fakes.model_servers import (
    FakeModelServer,
    RecordedRequest,
    anthropic_message,
    chat_body,
    chat_tool_call,
    computer_call,
    output_message,
    request_images,
    responses_body,
    text_block,
    tool_use,
)


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer() as s:
        yield s


def image_size(body: Any) -> tuple[int, int]:
    """Size of the last screenshot in a request body (any provider's shape)."""
    images = request_images(body)
    assert images, "no screenshot in the request"
    return images[-1].size


def turns(*steps: Callable[[RecordedRequest], dict]) -> Callable[[RecordedRequest], dict]:
    """A policy answering the n-th model call with the n-th step (the last one repeats)."""
    calls = [0]

    def policy(request: RecordedRequest) -> dict:
        calls[0] += 1
        return steps[min(calls[0], len(steps)) - 1](request)
    return policy


def clicks(clickpad: Path) -> list[tuple[int, int]]:
    return [(int(l.split()[1]), int(l.split()[2])) for l in clickpad.read_text().splitlines() if l.startswith("click")]


def do(vd: VirtualDisplay, tmp_path: Path, model: str, url: str, *extra: str, task: str = "click the pad",
       env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    keys = {"ANTHROPIC_API_KEY": "test-key", "OPENAI_API_KEY": "test-key"}
    r = run_cli("do", task, "--model", model, "--base-url", url, "--record-dir", str(tmp_path / "rec"), "--json",
                *extra, env={**vd.env, **keys, **(env or {})}, timeout=120)
    summary = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
    return r.returncode, summary, r.stderr


QUARTER = (320, 200)  # a quarter of the 1280x800 screen, where every policy below points


def anthropic_click(req: RecordedRequest) -> dict:
    w, h = image_size(req.json)
    return anthropic_message(text_block("Clicking."), tool_use("left_click", coordinate=[w // 4, h // 4]))


def anthropic_done(req: RecordedRequest) -> dict:
    return anthropic_message(text_block("The pad was clicked."))


def cua_click(req: RecordedRequest) -> dict:
    w, h = image_size(req.json)
    return responses_body(computer_call(actions=[{"type": "click", "x": w // 4, "y": h // 4, "button": "left"}]),
                          model="gpt-5.4")


def cua_done(req: RecordedRequest) -> dict:
    return responses_body(output_message("Done: the pad was clicked."), model="gpt-5.4")


def chat_click_mark(req: RecordedRequest) -> dict:
    text = json.dumps(req.json)
    mark = re.search(r'\[(\d+)\] \w+ \\"clickpad\\"', text)
    assert mark, "the legend names the clickpad label"
    return chat_body(tool_calls=[chat_tool_call("click", {"mark": int(mark.group(1))})])


def chat_done(req: RecordedRequest) -> dict:
    return chat_body(tool_calls=[chat_tool_call("done", {"summary": "clicked"})])


def uitars_click(req: RecordedRequest) -> dict:
    # 1280x800 smart-resizes to 1288x812: the screen is sent at its own scale, padded at the edges
    assert image_size(req.json) == (1288, 812)
    x, y = QUARTER
    return chat_body(f"Thought: click the pad.\nAction: click(start_box='({x},{y})')", model="ui-tars-1.5-7b")


def uitars_done(req: RecordedRequest) -> dict:
    return chat_body("Thought: done.\nAction: finished(content='clicked')", model="ui-tars-1.5-7b")


@pytest.mark.parametrize("model, url_attr, policy, where", [
    ("anthropic:claude-sonnet-4-5", "url", turns(anthropic_click, anthropic_done), QUARTER),
    ("openai-cua:gpt-5.4", "openai_url", turns(cua_click, cua_done), QUARTER),
    ("openai:gpt-4o", "openai_url", turns(chat_click_mark, chat_done), None),
    ("ui-tars:ui-tars-1.5-7b", "openai_url", turns(uitars_click, uitars_done), QUARTER),
])
def test_a_task_through_each_provider_ends_done(vdisplay: VirtualDisplay, clickpad: Path, server: FakeModelServer,
                                                tmp_path: Path, model: str, url_attr: str, policy, where) -> None:
    server.policy = policy
    code, summary, err = do(vdisplay, tmp_path, model, getattr(server, url_attr))
    assert code == 0, err
    assert summary["status"] == "done" and summary["model_calls"] == server.calls() == 2
    assert summary["tokens"] > 0
    landed = wait_until(lambda: clicks(clickpad), what="the click")
    if where is None:  # marks: the centre of the OCR'd "clickpad" label, mid-screen
        assert abs(landed[0][0] - 640) < 60 and abs(landed[0][1] - 400) < 25, landed
    else:
        assert abs(landed[0][0] - where[0]) <= 2 and abs(landed[0][1] - where[1]) <= 2, landed


def test_guard_denial_reaches_the_model_and_the_run_goes_on(vdisplay, clickpad, server, tmp_path) -> None:
    server.policy = turns(lambda r: anthropic_message(tool_use("key", text="ctrl+alt+BackSpace")), anthropic_done)
    code, summary, err = do(vdisplay, tmp_path, "anthropic:claude-sonnet-4-5", server.url)
    assert code == 0, err
    second = json.dumps(server.requests[1].json)
    assert '"is_error": true' in second and "denied" in second
    assert vdisplay._xvfb is not None and vdisplay._xvfb.poll() is None  # the X server is alive


def test_a_model_that_keeps_trying_is_stopped_after_three_denials(vdisplay, server, tmp_path) -> None:
    home = Path(vdisplay.env["HOME"])
    (home / "canary").write_text("alive\n")
    vdisplay.launch_app(["xterm", "-e", "bash", "--norc", "--noprofile"])
    server.policy = turns(lambda r: anthropic_message(tool_use("type", text="rm -rf ~\n")),
                          lambda r: anthropic_message(tool_use("type", text="find ~ -delete\n")),
                          lambda r: anthropic_message(tool_use("key", text="ctrl+alt+shift+BackSpace")),
                          anthropic_done)
    code, summary, err = do(vdisplay, tmp_path, "anthropic:claude-sonnet-4-5", server.url)
    assert code == 3 and summary["status"] == "stopped" and summary["denials"] == 3, err
    reason = summary["reason"]
    assert reason.startswith("stopped after 3 denied actions: type 'rm -rf ~\\n' (")
    assert "type 'find ~ -delete\\n' (" in reason and "press ctrl+alt+shift+backspace (" in reason
    assert server.calls() == 3 and (home / "canary").read_text() == "alive\n"


def test_max_steps_and_max_cost_stop_with_exit_3(vdisplay, clickpad, server, tmp_path) -> None:
    server.policy = turns(anthropic_click)
    code, summary, err = do(vdisplay, tmp_path, "anthropic:claude-sonnet-4-5", server.url, "--max-steps", "2")
    assert code == 3 and summary["status"] == "stopped" and "--max-steps 2" in summary["reason"], err
    assert server.calls() == 2
    calls_before = server.calls()
    code, summary, err = do(vdisplay, tmp_path, "anthropic:claude-sonnet-4-5", server.url, "--max-cost", "0.015")
    assert code == 3 and summary["status"] == "stopped" and "max-cost" in summary["reason"], err
    assert summary["cost_usd"] <= 0.015  # stopped before the call that would pass the budget
    assert server.calls() - calls_before == summary["model_calls"] >= 1


def test_a_stuck_model_is_told_once_then_the_run_gives_up(vdisplay, server, tmp_path) -> None:
    vdisplay.launch_app(["xcalc", "-geometry", "+900+40"])
    # The model keeps clicking an empty spot of the desktop: nothing ever changes there.
    server.policy = turns(lambda r: anthropic_message(tool_use("left_click", coordinate=[10, 700])))
    code, summary, err = do(vdisplay, tmp_path, "anthropic:claude-sonnet-4-5", server.url, "--max-steps", "12")
    assert code == 1 and "stuck" in summary["reason"], err
    told = [json.dumps(r.json) for r in server.requests]
    assert any("you seem stuck" in t for t in told)


def test_secrets_never_reach_a_model_a_file_a_log_or_a_pixel(vdisplay, server, tmp_path) -> None:
    from agent.perception.masking import shows_secret
    from agent.perception.ocr import RapidOcrEngine

    target = tmp_path / "secret.txt"
    vdisplay.launch_app(["xterm", "-e", "bash", "--norc", "--noprofile"])
    server.policy = turns(lambda r: anthropic_message(tool_use("type", text=f"echo {{{{TOKEN}}}} | tee {target}\n")),
                          anthropic_done)
    r = run_cli("-vv", "do", "write {{TOKEN}} to the file", "--model", "anthropic:claude-sonnet-4-5",
                "--base-url", server.url, "--record-dir", str(tmp_path / "rec"), "--json", "--cassette",
                "--secret", "TOKEN", "--secret-visible", "TOKEN",
                env={**vdisplay.env, "ANTHROPIC_API_KEY": "test-key", "TOKEN": "sup3r-s3cret-99"}, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    wait_until(lambda: target.exists() and target.read_text() == "sup3r-s3cret-99\n", what="the secret typed")
    assert "sup3r-s3cret-99" not in r.stdout + r.stderr and "DEBUG" in r.stderr  # -vv: SDK debug logs too
    assert all(b"sup3r-s3cret-99" not in req.body for req in server.requests)
    folder = Path(json.loads(r.stdout.strip().splitlines()[-1])["recording"])
    assert (folder / "cassette.jsonl").is_file()
    for f in folder.rglob("*"):
        if f.is_file() and f.suffix in (".json", ".jsonl", ".html"):
            assert b"sup3r-s3cret-99" not in f.read_bytes(), f
    # The terminal shows the value twice after the step that typed it; no pixel that leaves shows it.
    ocr = RapidOcrEngine()
    sent = request_images(server.requests[-1].json)[-1:]
    stored = [Image.open(p) for p in sorted((folder / "frames").iterdir())]
    for image in [*sent, *stored]:
        text = " ".join(line.text for line in ocr.read(image.convert("RGB")))
        assert not shows_secret(text, ["sup3r-s3cret-99"]), text


def test_a_secret_goes_only_into_a_password_field(vdisplay, server, tmp_path) -> None:
    vdisplay.launch_app(["xterm", "-e", "bash", "--norc", "--noprofile"])
    server.policy = turns(lambda r: anthropic_message(tool_use("type", text="echo {{TOKEN}}\n")), anthropic_done)
    code, summary, err = do(vdisplay, tmp_path, "anthropic:claude-sonnet-4-5", server.url, "--secret", "TOKEN",
                            task="type {{TOKEN}}", env={"TOKEN": "sup3r-s3cret-99"})
    assert code == 0 and summary["denials"] == 1, err
    told = json.dumps(server.requests[1].json)
    assert "typed only into a password field" in told and "--secret-visible TOKEN" in told
    assert "sup3r-s3cret-99" not in told
