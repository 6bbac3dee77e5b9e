"""Crash safety: a writer killed with SIGKILL at random moments leaves every finished step loadable."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from agent.recording.format import load_recording

TESTS = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import sys
    from datetime import timedelta
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from recording_samples import desktop_frame
    from actions.models import Click, Target
    from agent.recording.writer import FolderRecorder
    from agent.recording.format import Session, Step, utc_now

    frames = [desktop_frame(s, (1920, 1080) if s % 3 == 0 else (800, 500)) for s in range(6)]
    rec = FolderRecorder(Path(sys.argv[1]))
    rec.start(Session(task="killed at random"))
    print("started", rec.folder, flush=True)
    for i in range(10_000):
        t = utc_now()
        before = rec.add_frame(frames[i % 6])
        after = rec.add_frame(frames[(i * 7 + 1) % 6] if i % 4 else frames[i % 6].rotate(i % 360))
        crop = rec.add_crop(frames[i % 6].crop((i % 50, 0, i % 50 + 64, 64)))
        target = Target(label=f"button {{i}}", crop_hash=crop)
        rec.append(Step(index=i, started=t, ended=utc_now(), frame_before=before, frame_after=after,
                        actions=(Click(x=10, y=10, target=target),), reasoning="r" * (i % 5000)))
        print("step", i, flush=True)
""")


def _run_and_kill(script: Path, record_dir: Path, delay: float) -> list[str]:
    proc = subprocess.Popen([sys.executable, str(script), str(record_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip()]
    assert lines[0].startswith("started"), proc.stderr.read() if proc.stderr else ""
    reader = threading.Thread(target=lambda: lines.extend(line.strip() for line in proc.stdout))  # type: ignore[union-attr]
    reader.start()
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    reader.join(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_sigkill_at_random_moments_leaves_every_finished_step_loadable(tmp_path: Path, seed: int) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(tests=str(TESTS)))
    delay = random.Random(seed).uniform(0.0, 1.2)
    lines = _run_and_kill(script, tmp_path / "rec", delay)
    finished = [int(line.split()[1]) for line in lines if line.startswith("step ")]

    rec = load_recording(next((tmp_path / "rec").iterdir()))
    indices = [s.index for s in rec.steps]
    assert indices == list(range(len(indices))), f"delay {delay:.2f}s"
    assert len(indices) >= len(finished), f"delay {delay:.2f}s: {len(finished)} finished, {len(indices)} loaded"
    # Only the last step's frame after may still have been encoding when the process died.
    last_after = {rec.steps[-1].frame_after} if rec.steps else set()
    assert set(rec.missing_frames) <= last_after
    assert all("truncated" in w or "did not finish" in w or "missing" in w for w in rec.warnings), rec.warnings
    for step in rec.steps:
        for name in (f for f in step.frames() if f not in rec.missing_frames):
            with Image.open(rec.frame_path(name)) as img:
                img.load()  # a whole, decodable image, not just a file name
        for crop in step.crops():
            with Image.open(rec.crop_path(crop)) as img:
                img.load()
