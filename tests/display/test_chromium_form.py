"""Chromium on a local HTML form (issue 13): fill it, submit once, read the confirmation; no network.

The form is served by the test (tests/apps/webform.py) and answers the POST 600 ms late, so a tool
that does not wait for the page's reaction, or a model shown a stale frame, submits twice; the
server's list of submissions is what the app received. The same task runs with the offline
planner, with a scripted Anthropic model and a scripted UI-TARS model through the local fake
servers, and as record -> replay against a fresh browser and server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agent.display import VirtualDisplay
from agent.recording.format import load_recording
from tests.apps.webform import WINDOW, WebForm, start_chromium
from tests.conftest import json_summary, run_cli
from tests.fakes.model_servers import (
    FakeModelServer,
    RecordedRequest,
    anthropic_message,
    chat_body,
    request_images,
    text_block,
    tool_use,
)

pytestmark = pytest.mark.real_app

NAME, EMAIL = "Ada Lovelace", "ada@example.org"  # the Name field has the focus (autofocus)
TASK = (f"wait for 'Name' up to 30 s, type '{NAME}', click 'Email', type '{EMAIL}', "
        f"click 'Submit', verify 'Thank you, {NAME}' within 5 s, verify 'submission 1'")
SENT = [{"name": NAME, "email": EMAIL}]



@pytest.fixture(scope="module")
def ocr() -> Any:
    from agent.perception.ocr import RapidOcrEngine

    return RapidOcrEngine()


@pytest.fixture
def webform(vdisplay: VirtualDisplay, tmp_path: Path) -> Iterator[WebForm]:
    """The form's server and a fresh Chromium showing it (its own profile)."""
    with WebForm(delay_s=0.6) as app:
        start_chromium(vdisplay, app, tmp_path / "chromium-profile")
        yield app


@pytest.fixture(scope="module")
def offline_run(display_binaries: None,
                tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, str]], int]:
    """The offline planner's run, once for the module: (summary, submissions, form loads). Its
    recording is what the replay test replays."""
    tmp = tmp_path_factory.mktemp("chromium-offline")
    with VirtualDisplay(size=(1280, 800), window_manager=True) as vd, WebForm(delay_s=0.6) as app:
        start_chromium(vd, app, tmp / "chromium-profile")
        r = run_cli("do", TASK, "--record-dir", str(tmp / "rec"), "--json", env=vd.env, timeout=150)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        return json_summary(r.stdout), list(app.submissions), app.form_loads


def test_offline_planner_fills_submits_once_and_reads_the_confirmation(
        offline_run: tuple[dict[str, Any], list[dict[str, str]], int], ocr: Any) -> None:
    summary, submissions, loads = offline_run
    assert summary["status"] == "done" and summary["model_calls"] == 0
    assert submissions == SENT and loads == 1
    rec = load_recording(summary["recording"])
    said = " ".join(s.reasoning for s in rec.steps)
    assert f"\"verify 'Thank you, {NAME}' within 5 s\": ok" in said
    assert "\"verify 'submission 1'\": ok" in said
    typed = [res for s in rec.steps for res in s.results if res.action and res.action.kind == "type"]
    assert [res.ok for res in typed] == [True, True]
    # No session bus: what each typing changed in the page was read back by OCR.
    assert [res.verify_note for res in typed] == ["read back by OCR of what changed on screen"] * 2
    submit = next(s for s in rec.steps if any("click 'Submit'" in a.describe() for a in s.actions))
    # The reaction waited for is the page the server sent 600 ms later (its title first), not the
    # button's own press or the focus ring leaving the Email field at once; the frame after the
    # click already shows the page, not only its title.
    reaction = submit.reactions[0]
    assert reaction.signal == "title" and (reaction.reacted_s or 0) >= 0.6, reaction
    assert submit.frame_after is not None
    after = Image.open(rec.folder / "frames" / submit.frame_after).convert("RGB")
    assert f"Thank you, {NAME}" in [line.text for line in ocr.read(after)]


# --------------------------------------------------------------------------- scripted models


Move = tuple[str, Any]  # ("type", text) | ("click", (x, y)) | ("done", summary), in the image's pixels


class FormPolicy:
    """A scripted model that looks: it reads the screenshot it was sent by OCR, types the name
    (the field has the focus), clicks the Email label where it sees it, types the email and clicks
    Submit where it sees it. It answers done only once its screenshot shows the confirmation; a
    screenshot that still shows the form after Submit makes it click Submit again, as a model
    shown a stale frame would. `answer` renders a move in one provider's wire format."""

    def __init__(self, ocr: Any, answer: Any) -> None:
        self.ocr, self.answer = ocr, answer
        self.seen: list[str] = []    # the text of every screenshot, one per call
        self.moves: list[Move] = []

    def _read(self, image: Image.Image) -> list[tuple[str, tuple[int, int]]]:
        sx, sy = image.width / 1280, image.height / 800
        left, top, width, height = WINDOW
        box = (0, 0, int((left + width + 20) * sx), int((top + height + 20) * sy))  # the browser window
        lines = self.ocr.read(image.convert("RGB").crop(box))
        return [(line.text, ((line.box.left + line.box.right) // 2, (line.box.top + line.box.bottom) // 2))
                for line in lines]

    def _move(self, lines: list[tuple[str, tuple[int, int]]]) -> Move:
        where = {text: centre for text, centre in lines}
        done = [kind for kind, _ in self.moves]
        if "click" in done and any(text.startswith("Thank you") for text, _ in lines):
            return "done", "The form was submitted."
        if not done:
            return "type", NAME
        if len(done) == 1:
            return "click", where["Email"]
        if len(done) == 2:
            return "type", EMAIL
        return "click", where["Submit"]  # first time, or again: the form is still there

    def __call__(self, request: RecordedRequest) -> dict[str, Any]:
        images = request_images(request.json)
        assert images, "no screenshot in the request"
        lines = self._read(images[-1])
        self.seen.append(" | ".join(text for text, _ in lines))
        move = self._move(lines)
        self.moves.append(move)
        return self.answer(move)  # type: ignore[no-any-return]


def anthropic_answer(move: Move) -> dict[str, Any]:
    kind, arg = move
    if kind == "done":
        return anthropic_message(text_block(arg))
    if kind == "type":
        return anthropic_message(text_block("Typing."), tool_use("type", text=arg))
    return anthropic_message(text_block("Clicking."), tool_use("left_click", coordinate=list(arg)))


def uitars_answer(move: Move) -> dict[str, Any]:
    kind, arg = move
    if kind == "done":
        action = f"finished(content='{arg}')"
    elif kind == "type":
        action = f"type(content='{arg}')"
    else:
        action = f"click(start_box='({arg[0]},{arg[1]})')"
    return chat_body(f"Thought: next.\nAction: {action}", model="ui-tars-1.5-7b")


@pytest.mark.slow
@pytest.mark.parametrize("model, answer", [("anthropic:claude-sonnet-4-5", anthropic_answer),
                                           ("ui-tars:ui-tars-1.5-7b", uitars_answer)],
                         ids=["anthropic", "ui-tars"])
def test_a_scripted_model_fills_submits_once_and_sees_the_confirmation(
        vdisplay: VirtualDisplay, webform: WebForm, ocr: Any, tmp_path: Path, model: str,
        answer: Any) -> None:
    policy = FormPolicy(ocr, answer)
    with FakeModelServer(policy) as server:
        url = server.url if model.startswith("anthropic") else server.openai_url
        task = f"fill the form with name {NAME} and email {EMAIL}, then submit it"
        r = run_cli("do", task, "--model", model, "--base-url", url, "--record-dir", str(tmp_path / "rec"),
                    "--json", "--max-steps", "8",
                    env={**vdisplay.env, "ANTHROPIC_API_KEY": "test-key", "OPENAI_API_KEY": "test-key"},
                    timeout=150)
        calls = server.calls()
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:] + "\n".join(policy.seen)
    assert webform.submissions == SENT, policy.seen
    moves = [kind for kind, _ in policy.moves]
    assert moves == ["type", "click", "type", "click", "done"], (policy.moves, policy.seen)
    assert calls == 5 and json_summary(r.stdout)["model_calls"] == 5
    assert NAME in policy.seen[1], policy.seen           # each screenshot showed the last action's effect
    assert EMAIL in policy.seen[3] and "Thank you" not in policy.seen[3], policy.seen
    assert f"Thank you, {NAME}" in policy.seen[4] and "submission 1" in policy.seen[4], policy.seen


# --------------------------------------------------------------------------- record -> replay


def test_the_offline_recording_replays_on_a_fresh_browser_and_submits_once(
        vdisplay: VirtualDisplay, webform: WebForm, tmp_path: Path,
        offline_run: tuple[dict[str, Any], list[dict[str, str]], int]) -> None:
    recording = offline_run[0]["recording"]
    r = run_cli("replay", recording, "--record-dir", str(tmp_path / "rec"), "--json", env=vdisplay.env,
                timeout=150)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    summary = json_summary(r.stdout)
    assert summary["status"] == "done" and summary["model_calls"] == 0
    assert webform.submissions == SENT
    replay = load_recording(summary["recording"])
    assert replay.session.kind == "replay" and replay.session.replay_of == str(Path(recording).resolve())
