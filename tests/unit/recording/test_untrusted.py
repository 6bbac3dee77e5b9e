"""Recordings are untrusted input: crafted names, symlinks, FIFOs and garbage lines give warnings or
one typed error, and nothing outside the recording folder is ever opened.

"Never opened" is proven with FIFOs planted outside the folder (and where a crafted name or a
symlink points): see `recording_samples.FifoTrap`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.errors import UIAgentError, UnsafeRecording, UsageError
from agent.recording.files import open_inside, safe_crop_hash, safe_frame_name
from agent.recording.format import load_recording, open_frame
from agent.recording.report import render_report
from agent.replay.playback import _frame_loader, load_crops
from agent.testing.step_cache import CacheFile
from tests.conftest import run_cli
from tests.recording_samples import FifoTrap, write_png, write_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("sample"), steps=6, distinct=2, size=(320, 200))


def crafted(tmp_path: Path, sample: Path, trap: FifoTrap) -> Path:
    """A copy of `sample` whose steps name files outside it: `../`, absolute paths, a FIFO."""
    folder = tmp_path / "rec"
    shutil.copytree(sample, folder)
    lines = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()]
    evil = ["../../outside/secret.png", str(trap.secret), str(trap.fifos[0]), "../../outside/fifo.png",
            "frames/../../../outside/fifo.png"]
    for i, step in enumerate(lines):
        step["frame_before"] = evil[i % len(evil)]
        for action in step["actions"]:
            if action.get("target"):
                action["target"]["crop_hash"] = ["../../outside/fifo", str(trap.fifos[1])][i % 2]
    (folder / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in lines))
    return folder


def test_crafted_names_are_refused_by_name_and_step(tmp_path: Path, sample: Path) -> None:
    trap = FifoTrap(tmp_path / "outside")
    folder = crafted(tmp_path, sample, trap)
    rec = trap.call(lambda: load_recording(folder))
    assert len(rec.steps) == 6
    assert all(s.frame_before is None for s in rec.steps) and all(c == () for c in (s.crops() for s in rec.steps))
    refused = [w for w in rec.warnings if "refused, not opened" in w]
    assert any(w.startswith("step 0 (line 1): frame_before '../../outside/secret.png'") for w in refused), refused
    assert any(w.startswith("step 1 (line 2): crop_hash") for w in refused)
    crops, _ = trap.call(lambda: load_crops(rec))
    assert crops == {}
    loader = _frame_loader(rec)
    assert trap.call(lambda: [loader(n) for n in ("../../outside/fifo.png", str(trap.fifos[0]))]) == [None, None]


def test_show_and_diff_read_nothing_outside(tmp_path: Path, sample: Path) -> None:
    trap = FifoTrap(tmp_path / "outside")
    folder = crafted(tmp_path, sample, trap)
    result = trap.call(lambda: run_cli("show", str(folder), "--diff", str(sample), timeout=15))
    assert result.returncode == 0, result.stderr
    assert "step 0 (line 1): frame_before '../../outside/secret.png' is not a frame name" in result.stderr
    assert "Traceback" not in result.stderr
    html = (folder / "report.html").read_text()
    assert html.count("data:image/jpeg;base64,") == 2  # the two frames after the steps still name
    assert "secret.png" in html and "data:image/png;base64," not in html  # named in a warning, never embedded


def test_symlinks_and_fifos_inside_the_folder_are_refused(tmp_path: Path, sample: Path) -> None:
    trap = FifoTrap(tmp_path / "outside")
    folder = tmp_path / "rec"
    shutil.copytree(sample, folder)
    frames = sorted((folder / "frames").iterdir())
    frames[0].unlink()
    frames[0].symlink_to(trap.fifos[0])          # a valid name that leads out of the folder
    frames[1].unlink()
    os.mkfifo(frames[1])                          # a valid name that is a FIFO inside
    for crop in (folder / "crops").iterdir():
        crop.unlink()
        crop.symlink_to(trap.secret)
    rec = trap.call(lambda: load_recording(folder))
    with pytest.raises(UnsafeRecording, match="leads outside the recording"):
        rec.open_frame(frames[0].name)
    with pytest.raises(UnsafeRecording, match="not a regular file"):
        trap.call(lambda: rec.open_frame(frames[1].name), timeout=5)
    assert trap.call(lambda: load_crops(rec))[0] == {}
    html, warnings = trap.call(lambda: render_report(rec))
    assert "data:image/jpeg" not in html and "data:image/png" not in html
    assert any("leads outside the recording" in w for w in warnings), warnings
    assert any("not a regular file" in w for w in warnings), warnings


def test_session_and_steps_files_that_lead_outside(tmp_path: Path, sample: Path) -> None:
    trap = FifoTrap(tmp_path / "outside")
    folder = tmp_path / "rec"
    shutil.copytree(sample, folder)
    (folder / "steps.jsonl").unlink()
    (folder / "steps.jsonl").symlink_to(trap.fifos[1])
    with pytest.raises(UsageError, match="steps.jsonl leads outside the recording"):
        trap.call(lambda: load_recording(folder))
    (folder / "session.json").unlink()
    (folder / "session.json").symlink_to(trap.fifos[0])
    result = trap.call(lambda: run_cli("show", str(folder), timeout=15))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "leads outside" in result.stderr


def test_the_step_cache_refuses_crafted_crop_hashes(tmp_path: Path) -> None:
    trap = FifoTrap(tmp_path / "outside")
    cache = CacheFile(path=tmp_path / ".uiagent-cache" / "mod" / "test.yaml", test="t")
    (tmp_path / ".uiagent-cache" / "crops").mkdir(parents=True)
    good = "0123456789abcdef0123"
    write_png(tmp_path / ".uiagent-cache" / "crops" / f"{good}.png", (1, 2, 3))
    evil = ["../../outside/fifo", str(trap.fifos[1]), "../crops/" + good]
    assert trap.call(lambda: [cache.crop(h) for h in evil]) == [None, None, None]
    assert cache.crop(good) is not None


def test_names_the_writer_makes_are_safe(tmp_path: Path, sample: Path) -> None:
    rec = load_recording(sample)
    assert rec.warnings == ()
    assert all(safe_frame_name(f) for s in rec.steps for f in s.frames())
    assert all(safe_crop_hash(c) for s in rec.steps for c in s.crops())
    with open_frame(sample, rec.steps[0].frame_before or "") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileNotFoundError):
        open_inside(sample, "frames", "0" * 20 + ".png")


# --------------------------------------------------------------------------- fuzzing

NAMES = st.one_of(
    st.sampled_from(["../../outside/fifo.png", "/etc/passwd", "frames/../../outside/secret.png", "..", "",
                     "./0123456789abcdef0123.png", "0123456789ABCDEF0123.png", "0123456789abcdef0123.png\n",
                     "0123456789abcdef0123.png/..", "x" * 5000]),
    st.text(max_size=40),
    st.from_regex(r"[0-9a-f]{20}\.(png|webp)", fullmatch=True),
)
HASHES = st.one_of(NAMES, st.from_regex(r"[0-9a-f]{20}", fullmatch=True))
GARBAGE = st.one_of(st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ")),
                    st.sampled_from([b"{}", b"[]", b"null", b'{"index": -1}', b'{"index": 1e999}', b"\xff\xfe",
                                     b'{"index": 0, "started": "x"}', b" " * 10]))


@st.composite
def recordings(draw: st.DrawFn) -> tuple[list[bytes], bool]:
    """steps.jsonl as lines: template steps with drawn names and fields, garbage lines between."""
    lines: list[bytes] = []
    for i in range(draw(st.integers(0, 8))):
        if draw(st.booleans()) and draw(st.booleans()):
            lines.append(draw(GARBAGE))
            continue
        step = json.loads(TEMPLATES[i % len(TEMPLATES)])
        step["index"] = draw(st.one_of(st.just(i), st.integers(-3, 10**12), st.text(max_size=3)))
        for field in ("frame_before", "frame_after"):
            step[field] = draw(st.one_of(st.none(), NAMES))
        for action in step["actions"]:
            if action.get("target"):
                action["target"]["crop_hash"] = draw(st.one_of(st.none(), HASHES))
        if draw(st.booleans()):
            step[draw(st.sampled_from(["reasoning", "raw_output", "error", "notes"]))] = draw(
                st.one_of(st.text(max_size=50), st.integers(), st.lists(st.text(max_size=5), max_size=3)))
        lines.append(json.dumps(step).encode())
    return lines, draw(st.booleans())


TEMPLATES: list[str] = []


@pytest.fixture(scope="module")
def templates(sample: Path) -> Iterator[None]:
    TEMPLATES[:] = (sample / "steps.jsonl").read_text().splitlines()
    yield


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(drawn=recordings())
def test_fuzzed_recordings_give_warnings_or_typed_errors_and_read_nothing_outside(
        drawn: tuple[list[bytes], bool], sample: Path, templates: None, tmp_path_factory: pytest.TempPathFactory
        ) -> None:
    lines, cut = drawn
    base = tmp_path_factory.mktemp("fuzz")
    trap = FifoTrap(base / "outside")
    folder = base / "rec"
    shutil.copytree(sample, folder)
    data = b"".join(line + b"\n" for line in lines)
    (folder / "steps.jsonl").write_bytes(data[:-3] if cut and data else data)

    def read() -> tuple[object, str]:
        rec = load_recording(folder)
        load_crops(rec)
        return rec, render_report(rec)[0]

    try:
        rec, html = trap.call(read)
    except UIAgentError:
        return
    for step in rec.steps:  # type: ignore[attr-defined]
        assert all(safe_frame_name(f) for f in step.frames()) and all(safe_crop_hash(c) for c in step.crops())
    assert "<script>alert" not in html
