"""Acting in step with the app (issue 13): a Submit whose reaction comes 100-900 ms after the click
(tests/apps/delayed.py) is submitted once, and whoever plans next sees the reaction."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agent.display import VirtualDisplay
from agent.recording.format import load_recording
from tests.conftest import APPS, has_window, json_summary, run_cli, wait_until
from tests.fakes.model_servers import (
    FakeModelServer,
    RecordedRequest,
    anthropic_message,
    chat_body,
    request_images,
    text_block,
    tool_use,
)

DELAYS = (100, 400, 900)
SCREEN = (1280, 800)


def launch(vd: VirtualDisplay, tmp_path: Path, delay_ms: int) -> tuple[Path, dict[str, list[int]]]:
    out = tmp_path / "delayed.txt"
    vd.launch([sys.executable, str(APPS / "delayed.py"), str(out), "--delay-ms", str(delay_ms)])
    wait_until(lambda: out.exists() and "ready" in out.read_text(), what="the delayed app")
    vd.wait_for_window(name="uiagent delayed")
    line = next(l for l in out.read_text().splitlines() if l.startswith("widgets "))
    return out, json.loads(line.removeprefix("widgets "))


def submissions(out: Path) -> list[str]:
    return [l for l in out.read_text().splitlines() if l.startswith("submit ")]



@pytest.mark.parametrize("delay_ms", DELAYS)
def test_offline_click_then_verify_at_once_sees_the_late_reaction(vdisplay: VirtualDisplay, tmp_path: Path,
                                                                  delay_ms: int) -> None:
    out, _ = launch(vdisplay, tmp_path, delay_ms)
    # `within 0 s`: verify looks once, so the frame after the click must already show the reaction.
    r = run_cli("do", "click Submit, verify 'submitted 1' within 0 s", "--record-dir", str(tmp_path / "rec"),
                "--json", env=vdisplay.env, timeout=120)
    assert r.returncode == 0, r.stdout[-800:] + r.stderr[-800:]
    assert submissions(out) == ["submit 1"]
    step = load_recording(json_summary(r.stdout)["recording"]).steps[0]
    reaction = step.reactions[0]
    assert reaction.signal == "screen" and reaction.deadline_s == 1.0
    assert delay_ms / 1000 <= reaction.reacted_s < 1.0, reaction  # not the button's own flash
    assert step.durations.settle >= delay_ms and not step.notes


def test_offline_a_step_that_changes_nothing_fails_unless_it_says_so(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    out, _ = launch(vdisplay, tmp_path, 100)
    r = run_cli("do", "click Dead, click Submit", "--record-dir", str(tmp_path / "rec"), "--json",
                env=vdisplay.env, timeout=120)
    summary = json_summary(r.stdout)
    assert r.returncode == 1 and summary["status"] == "failed", r.stderr[-800:]
    assert summary["reason"].startswith("'click Dead': nothing changed on screen within 1 s after click")
    assert submissions(out) == []  # the run stopped there
    step = load_recording(summary["recording"]).steps[0]
    assert "the screen did not change within 1 s after: click" in " ".join(step.notes)
    r = run_cli("do", "click Dead (no change), click Submit, verify 'submitted 1'", "--record-dir",
                str(tmp_path / "rec"), "--json", env=vdisplay.env, timeout=120)
    assert r.returncode == 0, r.stdout[-800:] + r.stderr[-800:]
    assert submissions(out) == ["submit 1"]


# --------------------------------------------------------------------------- a scripted model


@pytest.fixture(scope="module")
def ocr() -> Any:
    from agent.perception.ocr import RapidOcrEngine

    return RapidOcrEngine()


def last_image(body: Any) -> Image.Image:
    images = request_images(body)
    assert images, "no screenshot in the request"
    return images[-1].convert("RGB")


class SubmitPolicy:
    """Clicks Submit; on later calls answers done if the screenshot it got shows `submitted`
    (OCR of the status label), else clicks Submit again (what a model shown a stale frame does).
    Answers as Claude (`anthropic`) or as UI-TARS-1.5 (pixels of the image it was sent)."""

    def __init__(self, boxes: dict[str, list[int]], ocr: Any, provider: str = "anthropic") -> None:
        self.boxes, self.ocr, self.provider = boxes, ocr, provider
        self.seen: list[str] = []

    def _scaled(self, image: Image.Image, box: list[int]) -> tuple[int, int, int, int]:
        sx, sy = image.width / SCREEN[0], image.height / SCREEN[1]
        return int(box[0] * sx), int(box[1] * sy), int(box[2] * sx), int(box[3] * sy)

    def __call__(self, request: RecordedRequest) -> dict[str, Any]:
        image = last_image(request.json)
        label = image.crop(self._scaled(image, self.boxes["status"]))
        text = " ".join(line.text for line in self.ocr.read(label.resize((label.width * 2, label.height * 2))))
        first = not self.seen
        self.seen.append(text)
        done = not first and "submitted" in text.lower()
        x0, y0, x1, y1 = self._scaled(image, self.boxes["submit"])
        x, y = (x0 + x1) // 2, (y0 + y1) // 2
        if self.provider == "ui-tars":
            action = "finished(content='submitted')" if done else f"click(start_box='({x},{y})')"
            return chat_body(f"Thought: the form.\nAction: {action}", model="ui-tars-1.5-7b")
        if done:
            return anthropic_message(text_block("The form was submitted."))
        return anthropic_message(text_block("Clicking Submit."), tool_use("left_click", coordinate=[x, y]))


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer() as s:
        yield s


MODELS = {"anthropic": ("anthropic:claude-sonnet-4-5", "url", "ANTHROPIC_API_KEY"),
          "ui-tars": ("ui-tars:ui-tars-1.5-7b", "openai_url", "OPENAI_API_KEY")}


@pytest.mark.parametrize(("provider", "delay_ms"), [("anthropic", d) for d in DELAYS] + [("ui-tars", 900)])
def test_a_model_is_shown_the_reaction_and_submits_once(vdisplay: VirtualDisplay, tmp_path: Path, server: FakeModelServer,
                                                       ocr: Any, provider: str, delay_ms: int) -> None:
    out, boxes = launch(vdisplay, tmp_path, delay_ms)
    policy = SubmitPolicy(boxes, ocr, provider)
    server.policy = policy
    model, url, key = MODELS[provider]
    r = run_cli("do", "submit the form", "--model", model, "--base-url", getattr(server, url),
                "--record-dir", str(tmp_path / "rec"), "--json", "--max-steps", "4",
                env={**vdisplay.env, key: "test-key"}, timeout=120)
    assert r.returncode == 0, r.stdout[-800:] + r.stderr[-800:]
    assert server.calls() == 2, policy.seen
    assert "submitted 1" in policy.seen[1].lower(), policy.seen  # the second request's screenshot shows it
    assert "submitted" not in policy.seen[0].lower()
    assert submissions(out) == ["submit 1"]


def test_a_recorded_submission_replays_once_on_a_fresh_app(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    """record -> replay: the offline run's recording, replayed on a fresh app that reacts 900 ms late,
    submits exactly once."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    out, _ = launch(vdisplay, first, 900)
    r = run_cli("do", "click Submit, verify 'submitted 1'", "--record-dir", str(tmp_path / "rec"), "--json",
                env=vdisplay.env, timeout=120)
    assert r.returncode == 0 and submissions(out) == ["submit 1"], r.stdout[-800:] + r.stderr[-800:]
    subprocess.run(["pkill", "-f", str(out)], check=True)
    wait_until(lambda: not has_window(vdisplay, "uiagent delayed"), what="the first app to close")
    again, _ = launch(vdisplay, second, 900)
    replayed = run_cli("replay", json_summary(r.stdout)["recording"], "--record-dir", str(tmp_path / "rec2"), "--json",
                       env=vdisplay.env, timeout=120)
    assert replayed.returncode == 0, replayed.stdout[-800:] + replayed.stderr[-800:]
    wait_until(lambda: submissions(again), what="the replayed submission")
    assert submissions(again) == ["submit 1"]

