"""Synthetic recordings for tests and bench/report.py: desktop-like frames and realistic steps.

Importable from any test as `recording_samples` (pytest puts tests/ on sys.path for conftest.py).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image, ImageDraw, ImageFont

from actions.models import (
    Action,
    ActionResult,
    Box,
    Click,
    Done,
    Drag,
    Key,
    Point,
    Scroll,
    Target,
    Type,
    Verdict,
)
from actions.secrets import Redactor
from agent.perception.elements import Element
from agent.planners.base import Usage
from agent.recording.format import Durations, Kind, Outcome, Session, Step, summarize_perception, utc_now
from agent.recording.writer import FolderRecorder, ImageFormat

WORDS = ["File", "Edit", "View", "Insert", "Format", "Tools", "Help", "Save", "Open", "Close", "Print", "Search", "Settings", "Account", "Invoice", "Total", "Amount", "Customer", "Address", "Submit", "Cancel", "Apply", "Next", "Back", "Report", "Summary"]


def desktop_frame(seed: int, size: tuple[int, int] = (1920, 1080)) -> Image.Image:
    """A desktop-like screenshot: wallpaper, a panel, windows with title bars, text and buttons."""
    rng = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size, (40 + seed % 5 * 10, 70, 110))
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=max(10, h // 70))
    d.rectangle((0, h - 36, w, h), fill=(30, 30, 36))
    for i in range(6):
        d.rectangle((8 + i * 44, h - 30, 40 + i * 44, h - 6), fill=(90 + i * 20, 90, 140))
    d.text((w - 90, h - 28), f"{10 + seed % 12}:{seed * 7 % 60:02d}", fill="white", font=font)
    for win in range(rng.randint(1, 3)):
        x0, y0 = rng.randint(0, w // 3), rng.randint(0, h // 4)
        x1, y1 = min(w - 1, x0 + rng.randint(w // 3, w // 2)), min(h - 40, y0 + rng.randint(h // 3, h // 2))
        d.rectangle((x0, y0, x1, y1), fill=(245, 245, 245), outline=(80, 80, 80))
        d.rectangle((x0, y0, x1, y0 + 28), fill=(60, 90, 160) if win == 0 else (120, 120, 130))
        d.text((x0 + 10, y0 + 6), " ".join(rng.sample(WORDS, 3)), fill="white", font=font)
        y = y0 + 40
        while y < y1 - 60:
            d.text((x0 + 16, y), " ".join(rng.choices(WORDS, k=rng.randint(3, 9))), fill=(20, 20, 20), font=font)
            y += 22
        for b in range(3):
            bx = x1 - 110 * (b + 1)
            d.rounded_rectangle((bx, y1 - 44, bx + 96, y1 - 14), radius=5, fill=(225, 225, 232), outline=(90, 90, 90))
            d.text((bx + 14, y1 - 38), rng.choice(WORDS), fill="black", font=font)
    return img


def _result(action: Action, ok: bool = True, error: str | None = None) -> ActionResult:
    verdict = Verdict() if ok else Verdict(decision="deny", reason=error or "denied", guard="on_screen")
    return ActionResult(action=action, status="performed" if ok else "denied", verdict=verdict, error=error)


def sample_actions(i: int, w: int, h: int, label: str = "Button") -> tuple[list[Action], bool]:
    """The i-th step's actions (cycling click, drag, scroll, type, key) and whether it fails."""
    box = Box(left=w // 4, top=h // 3, right=w // 4 + 120, bottom=h // 3 + 40)
    target = Target(label=f"{label} {i % 5}", role="button", bbox=box)
    kinds: list[list[Action]] = [
        [Click(x=box.center.x, y=box.center.y, target=target)],
        [Drag(path=(Point(x=w // 5, y=h // 5), Point(x=w // 2, y=h // 2)), target=target)],
        [Scroll(x=w * 3 // 4, y=h // 2, dy=5)],
        [Type(text="hello world")],
        [Key(chord="ctrl+s")],
    ]
    return kinds[i % len(kinds)], i % 7 == 6


def write_sample(record_dir: Path, steps: int = 6, size: tuple[int, int] = (1920, 1080), distinct: int = 4,
                 task: str = "Fill in the invoice form", secrets: dict[str, str] | None = None,
                 image_format: ImageFormat = "png", kind: Kind = "do", finish: bool = True,
                 diverge_at: int | None = None) -> Path:
    """Write a recording with `steps` steps over `distinct` frames; returns its folder. From step
    `diverge_at` on, targets are labelled "Other" instead of "Button" (a run that went elsewhere)."""
    w, h = size
    frames = [desktop_frame(s, size) for s in range(distinct)]
    start = utc_now()
    with FolderRecorder(record_dir, Redactor(secrets), image_format=image_format) as rec:
        rec.start(Session(task=task, planner="offline", model="offline:steps", kind=kind,
                          settings={"max_steps": steps}, started=start))
        names = [rec.add_frame(f) for f in frames]
        for i in range(steps):
            label = "Other" if diverge_at is not None and i >= diverge_at else "Button"
            actions, fails = sample_actions(i, w, h, label) if i < steps - 1 else ([Done(summary="finished")], False)
            crop = rec.add_crop(frames[i % distinct].crop((w // 4, h // 3, w // 4 + 120, h // 3 + 40)))
            actions = [_with_crop(a, crop) for a in actions]
            results = tuple(_result(a, ok=not fails, error="point outside the screen" if fails else None)
                            for a in actions)
            elements = [Element(id=k, text=WORDS[k], box=Box(left=10 * k, top=10, right=10 * k + 50, bottom=30))
                        for k in range(5)]
            rec.append(Step(index=i, started=start + timedelta(seconds=i), ended=start + timedelta(seconds=i + 0.8),
                            frame_before=names[i % distinct], frame_after=names[(i + 1) % distinct],
                            perception=summarize_perception(elements, used=[1], source="ocr"),
                            prompt_ref="system/anthropic.md", raw_output=f'{{"step": {i}, "action": "..."}}',
                            reasoning=f"Step {i}: I see the form, so I act on it.",
                            actions=tuple(actions), model_coordinates=tuple(f"({i},{i})@1280x720" for _ in actions),
                            results=results, error="the action was denied" if fails else None,
                            durations=Durations(capture=20, perceive=300, plan=1200, act=40, settle=250, record=5),
                            usage=Usage(model_calls=1, input_tokens=1500, output_tokens=80, cost_usd=0.0057)))
        if finish:
            rec.finish(Outcome(status="done", reason="finished", steps=steps, model_calls=steps,
                               tokens=steps * 1580, cost_usd=steps * 0.0057, duration_s=steps * 1.0))
        assert rec.folder is not None
        return rec.folder


def write_long_sample(record_dir: Path, steps: int, distinct: int = 200, size: tuple[int, int] = (1920, 1080),
                      template_steps: int = 10) -> Path:
    """A long recording fast: `distinct` real frames (written by the recorder) shared by `steps`
    steps as a real run shares them (step i goes from frame i % distinct to the next), the step
    lines copied from a `template_steps`-step sample (a failed step every 10th)."""
    folder = write_sample(record_dir, steps=template_steps, size=size, distinct=min(distinct, template_steps))
    names = sorted(p.name for p in (folder / "frames").iterdir())
    if distinct > len(names):
        with FolderRecorder(record_dir / "extra") as rec:
            rec.start(Session(task="extra frames"))
            names += [rec.add_frame(desktop_frame(1000 + k, size)) for k in range(distinct - len(names))]
            rec.flush()
            assert rec.folder is not None
            for p in (rec.folder / "frames").iterdir():
                os.replace(p, folder / "frames" / p.name)
        shutil.rmtree(record_dir / "extra")
    templates = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()][:-1]
    start = utc_now()
    with open(folder / "steps.jsonl", "w") as f:
        for i in range(steps):
            step = dict(templates[i % len(templates)], index=i, frame_before=names[i % distinct],
                        frame_after=names[(i + 1) % distinct],
                        started=(start + timedelta(seconds=i)).isoformat(),
                        ended=(start + timedelta(seconds=i + 0.8)).isoformat())
            f.write(json.dumps(step) + "\n")
    return folder


def _with_crop(action: Action, crop: str) -> Action:
    target = getattr(action, "target", None)
    if target is None:
        return action
    return action.model_copy(update={"target": target.model_copy(update={"crop_hash": crop})})


class FifoTrap:
    """FIFOs planted outside a recording, and a PNG beside them. Opening a FIFO for reading blocks
    until a writer comes, so code that opened one hangs: `call(fn)` runs fn in a thread and, if it
    is still running after `timeout`, opens the FIFOs for writing (releasing a blocked reader) and
    fails the test; it also fails if a FIFO is still held open afterwards."""

    def __init__(self, outside: Path) -> None:
        outside.mkdir(exist_ok=True)
        self.fifos = [outside / "fifo.png", outside / "fifo"]
        for f in self.fifos:
            if not f.exists():
                os.mkfifo(f)
        self.secret = outside / "secret.png"
        write_png(self.secret, (200, 10, 10))

    def call(self, fn: Callable[[], T], timeout: float = 20.0) -> T:
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as e:  # noqa: BLE001 - handed to the test thread
                box["error"] = e

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            opened = [f for f in self.fifos if _release(f)]
            thread.join(5)
            pytest.fail(f"still reading after {timeout:g}s: it opened {opened or 'something that blocks'}")
        assert not any(_release(f) for f in self.fifos), "a FIFO outside the recording is held open"
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]


def _release(fifo: Path) -> bool:
    """Open the FIFO for writing without blocking: that succeeds only if a reader has it open."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(fd)
    return True


def write_png(path: Path, colour: tuple[int, int, int]) -> None:
    from PIL import Image
    Image.new("RGB", (64, 48), colour).save(path)


T = TypeVar("T")


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """Make an existing folder unwritable for this process: a read-only bind mount for root (root
    ignores file modes), mode 0555 otherwise."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(mode)
        return
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)
