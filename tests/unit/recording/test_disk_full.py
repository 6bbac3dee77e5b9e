"""A disk that fills up during a run: the outcome is still written (into the space reserved at
start) and no temp or reserve file is left. A real tmpfs (needs root, as the suite runs in CI)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from actions.errors import DiskFull
from agent.recording.format import Outcome, Session, load_recording
from agent.recording.writer import RESERVE_FILE, FolderRecorder


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (CI runs as root)")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_the_outcome_is_written_on_a_full_disk_and_nothing_is_left_behind(tiny_disk: Path) -> None:
    rec = FolderRecorder(tiny_disk)
    rec.start(Session(task="fill the disk"))
    assert rec.folder is not None and (rec.folder / RESERVE_FILE).stat().st_blocks * 512 >= 64 * 1024
    noise = [Image.frombytes("RGB", (160, 160), os.urandom(160 * 160 * 3)) for _ in range(6)]  # ~77 KB PNGs
    with pytest.raises(DiskFull, match="No space left on device"):
        for image in noise:
            rec.add_frame(image)
        rec.flush()
    rec.finish(Outcome(status="failed", reason="disk full: test"))
    rec.close()
    loaded = load_recording(rec.folder)
    assert loaded.session.outcome.reason == "disk full: test"
    left = [p.name for p in rec.folder.rglob("*") if p.name.endswith(".tmp") or p.name == RESERVE_FILE]
    assert left == []


def test_the_reserve_is_released_on_close_without_an_outcome(tmp_path: Path) -> None:
    with FolderRecorder(tmp_path) as rec:
        rec.start(Session(task="t"))
        assert rec.folder is not None and (rec.folder / RESERVE_FILE).exists()
    assert not (rec.folder / RESERVE_FILE).exists()
