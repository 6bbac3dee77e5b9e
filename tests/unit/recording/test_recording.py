"""The recording format: round trips, dedup, redaction, bad input, unwritable folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from actions.errors import UsageError
from actions.models import (
    ActionResult,
    Box,
    Click,
    Done,
    Drag,
    Fail,
    Key,
    Move,
    Point,
    Scroll,
    Target,
    Type,
    Verdict,
    Wait,
)
from actions.secrets import Redactor
from agent.perception.elements import Element
from agent.planners.base import Usage
from agent.recording.format import (
    FORMAT_VERSION,
    Durations,
    Outcome,
    Session,
    Step,
    load_recording,
    summarize_perception,
    utc_now,
)
from agent.recording.writer import FolderRecorder, MemoryRecorder, Recorder, image_digest, slugify
from tests.recording_samples import desktop_frame, read_only, write_sample

ROOT = Path(__file__).resolve().parents[3]


def full_step(index: int = 0, **update: object) -> Step:
    target = Target(label="OK", role="button", bbox=Box(left=10, top=20, right=60, bottom=40), crop_hash=None, mark=3)
    actions = (Click(x=35, y=30, target=target, modifiers=("ctrl",)), Move(x=1, y=2),
               Drag(path=(Point(x=1, y=1), Point(x=5, y=5), Point(x=9, y=9))), Scroll(x=3, y=4, dy=-2),
               Type(text="héllo\n"), Key(chord="ctrl+s"), Wait(seconds=0.5), Done(summary="ok"), Fail(reason="no"))
    start = utc_now()
    step = Step(index=index, started=start, ended=start + timedelta(milliseconds=900),
                frame_before="a.png", frame_after="b.png", frame_origin=Point(x=1920, y=0),
                perception=summarize_perception([Element(id=i, text=f"e{i}", box=target.bbox) for i in range(40)],
                                                used=[33], source="ocr", keep=5),
                prompt_ref="system/anthropic.md", raw_output='{"x": 1}', reasoning="because",
                actions=actions, model_coordinates=tuple("mark 3" for _ in actions),
                results=(ActionResult(action=actions[0], status="performed", guard_ms=0.2, act_ms=4.0),
                         ActionResult(action=actions[1], status="denied",
                                      verdict=Verdict(decision="deny", reason="corner", guard="on_screen"))),
                notes=("the screen did not change",), durations=Durations(capture=1.5, plan=900),
                usage=Usage(model_calls=1, input_tokens=10, output_tokens=2, cost_usd=0.01), error=None)
    return step.model_copy(update=update)


def test_session_and_step_round_trip() -> None:
    session = Session(task="t", planner="anthropic", model="anthropic:claude", settings={"a": [1, 2]},
                      replay_of="recordings/x", kind="replay")
    step = full_step()
    r = Redactor()
    assert Session.model_validate_json(r.json(session)) == session
    assert Step.model_validate_json(r.json(step)) == step
    assert step.perception.element_count == 40 and [e.id for e in step.perception.elements] == [33, 0, 1, 2, 3, 4]
    assert [v.decision for v in step.verdicts] == ["allow", "deny"]
    assert step.failed and not full_step(results=()).failed


def test_recorder_round_trip_and_dedup(tmp_path: Path) -> None:
    a, b = desktop_frame(1, (640, 400)), desktop_frame(2, (640, 400))
    with FolderRecorder(tmp_path) as rec:
        assert isinstance(rec, Recorder)
        rec.start(Session(task="Dedup frames!"))
        names = [rec.add_frame(a), rec.add_frame(b), rec.add_frame(a.copy())]
        crop = rec.add_crop(a.crop((0, 0, 32, 32)))
        target = Target(label="x", crop_hash=crop)
        rec.append(full_step(0, frame_before=names[0], frame_after=names[1],
                             actions=(Click(x=1, y=1, target=target),), results=()))
        rec.append(full_step(1, frame_before=names[2], frame_after=None))
        rec.finish(Outcome(status="done", steps=2))
        folder = rec.folder
    assert folder is not None and folder.name.endswith("-dedup-frames")
    assert names[0] == names[2] != names[1]
    assert sorted(p.name for p in (folder / "frames").iterdir()) == sorted({names[0], names[1]})
    assert (folder / "crops" / f"{crop}.png").is_file()
    rec2 = load_recording(folder)
    assert [s.index for s in rec2.steps] == [0, 1] and rec2.warnings == () and rec2.missing_frames == ()
    assert rec2.session.outcome.status == "done" and rec2.session.ended is not None
    with Image.open(rec2.frame_path(names[0])) as img:
        assert img.convert("RGB").tobytes() == a.tobytes()  # lossless PNG


def test_a_step_line_waits_for_the_previous_steps_frame_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Step 1 hands in an already-encoded frame before, not step 0's frame after: its line must still
    # wait for that frame after, or a crash leaves a missing frame in the middle of the recording.
    import agent.recording.writer as writer
    encode, slow = writer._encode, threading.Event()

    def slow_encode(path: Path, *args: object) -> None:
        if path.name.startswith(slow_name):
            slow.wait(0.5)
        encode(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "_encode", slow_encode)
    a, b = desktop_frame(1, (320, 200)), desktop_frame(2, (320, 200))
    slow_name = image_digest(b)[0]
    with FolderRecorder(tmp_path) as rec:
        rec.start(Session(task="slow after"))
        first = rec.add_frame(a)
        rec.append(full_step(0, frame_before=first, frame_after=None))
        after = rec.add_frame(b)
        rec.append(full_step(1, frame_before=first, frame_after=after, actions=(), results=()))
        rec.append(full_step(2, frame_before=first, frame_after=None, actions=(), results=()))
        assert rec.folder is not None and (rec.folder / "frames" / after).is_file()


def test_same_second_same_task_gets_distinct_folders(tmp_path: Path) -> None:
    started = utc_now()
    folders = []
    for _ in range(3):
        with FolderRecorder(tmp_path) as rec:
            rec.start(Session(task="same task", started=started))
            folders.append(rec.folder)
    assert len(set(folders)) == 3 and all(f and (f / "session.json").is_file() for f in folders)


@pytest.mark.parametrize(("task", "slug"), [("Open the Calculator, add 2+2!", "open-the-calculator-add-2-2"),
                                            ("../../etc/passwd", "etc-passwd"), ("日本語", "session"),
                                            ("x" * 100, "x" * 40)])
def test_slug_is_safe_and_short(task: str, slug: str) -> None:
    assert slugify(task) == slug


def test_webp_frames(tmp_path: Path) -> None:
    with FolderRecorder(tmp_path, image_format="webp") as rec:
        rec.start(Session(task="webp"))
        name = rec.add_frame(desktop_frame(3, (320, 200)))
        rec.flush()
        assert name.endswith(".webp") and rec.folder and (rec.folder / "frames" / name).stat().st_size > 0


SECRETS = {"API_KEY": "sk-live-SECRET1234", "PASSWORD": 'p@ss"w\\ord'}


def test_secrets_never_reach_the_disk(tmp_path: Path) -> None:
    folder = write_sample(tmp_path, steps=3, distinct=2, size=(320, 200), secrets=SECRETS,
                          task=f"log in with sk-live-SECRET1234 and {SECRETS['PASSWORD']}")
    with FolderRecorder(tmp_path, Redactor(SECRETS)) as rec:  # every field that holds free text
        rec.start(Session(task="t", settings={"sk-live-SECRET1234": SECRETS["PASSWORD"]}))
        rec.append(full_step(0, frame_before=None, frame_after=None, reasoning="key is sk-live-SECRET1234",
                             raw_output=json.dumps({"text": SECRETS["PASSWORD"]}), notes=(SECRETS["PASSWORD"],),
                             actions=(Type(text=SECRETS["PASSWORD"]),), error="sk-live-SECRET1234 rejected"))
        rec.finish(Outcome(status="failed", reason=f"bad password {SECRETS['PASSWORD']}"))
        second = rec.folder
    assert second is not None
    for root in (folder, second):
        files = [p for p in root.rglob("*") if p.is_file()]
        blob = b"".join(p.read_bytes() + str(p).encode() for p in files)
        for value in SECRETS.values():
            for form in (value, json.dumps(value)[1:-1], json.dumps(json.dumps(value)[1:-1])[1:-1]):
                assert form.encode() not in blob
        assert b"{{API_KEY}}" in blob and b"{{PASSWORD}}" in blob
    step = load_recording(second).steps[0]
    assert step.actions[0] == Type(text="{{PASSWORD}}") and json.loads(step.raw_output) == {"text": "{{PASSWORD}}"}


def test_redactor_prefers_the_longest_secret() -> None:
    r = Redactor({"SHORT": "abc", "LONG": "abcdef", "EMPTY": ""})
    assert r.text("xabcdefx abc") == "x{{LONG}}x {{SHORT}}"
    assert r.data({"abc": ["abc", 1, None]}) == {"{{SHORT}}": ["{{SHORT}}", 1, None]}
    assert Redactor({"P": 'a"b\\c'}).text(json.dumps({"k": 'a"b\\c'})) == '{"k": "{{P}}"}'
    assert Redactor.from_env(["TOKEN", "UNSET"], {"TOKEN": "t0k3n"}).text("a t0k3n") == "a {{TOKEN}}"


def test_memory_recorder_is_a_recorder_and_redacts() -> None:
    rec = MemoryRecorder(Redactor({"K": "secret"}))
    assert isinstance(rec, Recorder) and rec.folder is None
    rec.start(Session(task="type secret"))
    name = rec.add_frame(desktop_frame(0, (64, 48)))
    rec.append(full_step(0, frame_before=name, frame_after=None, reasoning="secret"))
    with pytest.raises(ValueError, match="never added"):
        rec.append(full_step(1, frame_before="missing.png", frame_after=None))
    rec.finish(Outcome(status="done", steps=1))
    assert rec.session and rec.session.task == "type {{K}}" and rec.steps[0].reasoning == "{{K}}"


# --------------------------------------------------------------------------- bad input


def test_truncated_last_line_loads_the_good_steps(tmp_path: Path) -> None:
    folder = write_sample(tmp_path, steps=4, distinct=2, size=(320, 200))
    steps = folder / "steps.jsonl"
    data = steps.read_bytes()
    steps.write_bytes(data[: len(data) - 200])
    rec = load_recording(folder)
    assert [s.index for s in rec.steps] == [0, 1, 2]
    assert any("truncated" in w and "3 step(s) loaded" in w for w in rec.warnings)


def test_corrupt_middle_lines_are_skipped_with_a_warning(tmp_path: Path) -> None:
    folder = write_sample(tmp_path, steps=4, distinct=2, size=(320, 200))
    steps = folder / "steps.jsonl"
    lines = steps.read_text().splitlines(keepends=True)
    steps.write_text(lines[0] + '{"index": "x"}\n' + lines[2] + "\x00garbage\n" + lines[3])
    rec = load_recording(folder)
    assert [s.index for s in rec.steps] == [0, 2, 3]
    assert any("2 line(s) are not valid steps and were skipped: line 2 (index" in w and "line 4 (" in w
               for w in rec.warnings), rec.warnings


@pytest.mark.parametrize(("version", "words"), [(FORMAT_VERSION + 1, "newer than this uiagent reads"),
                                                (0, "older than this uiagent reads")])
def test_version_mismatch(tmp_path: Path, version: int, words: str) -> None:
    folder = write_sample(tmp_path, steps=1, distinct=1, size=(64, 48))
    session = json.loads((folder / "session.json").read_text())
    (folder / "session.json").write_text(json.dumps({**session, "version": version}))
    with pytest.raises(UsageError, match=f"format {version}, {words}"):
        load_recording(folder)


def test_not_a_recording(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a recording: no such folder"):
        load_recording(tmp_path / "nope")
    with pytest.raises(UsageError, match="not a recording: it has no session.json"):
        load_recording(tmp_path)
    (tmp_path / "session.json").write_text('{"hello": 1}')
    with pytest.raises(UsageError, match="not a uiagent session"):
        load_recording(tmp_path)
    (tmp_path / "session.json").write_text("{not json")
    with pytest.raises(UsageError, match="unreadable"):
        load_recording(tmp_path)


def test_missing_frames_and_unfinished_session_are_warnings(tmp_path: Path) -> None:
    folder = write_sample(tmp_path, steps=3, distinct=3, size=(320, 200), finish=False)
    victim = min((folder / "frames").iterdir())
    victim.unlink()
    rec = load_recording(folder / "session.json")
    assert rec.missing_frames == (victim.name,) and len(rec.steps) == 3
    assert any("did not finish" in w for w in rec.warnings) and any(victim.name in w for w in rec.warnings)


# --------------------------------------------------------------------------- unwritable folders


def test_record_dir_under_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with FolderRecorder(tmp_path / "file" / "rec") as rec, pytest.raises(UsageError, match="cannot write the recording"):
        rec.start(Session(task="t"))


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from recording_samples import desktop_frame
    from tests_unit_helpers import step
    from actions.errors import UsageError
    from agent.recording.writer import FolderRecorder
    from agent.recording.format import Outcome, Session
    rec = FolderRecorder(Path(sys.argv[1]))
    try:
        rec.start(Session(task="unwritable"))
        print("started", rec.folder, flush=True)
        for i in range(int(sys.argv[2])):
            name = rec.add_frame(desktop_frame(i, (640, 400)))
            rec.append(step(i, name))
            print("step", i, flush=True)
        rec.finish(Outcome(status="done"))
    except UsageError as e:
        print("usage-error", e, flush=True)
    except BaseException as e:
        print("other-error", type(e).__name__, e, flush=True)
    finally:
        try:
            rec.close()
        except UsageError:
            pass
""")


def run_writer(tmp_path: Path, record_dir: Path, steps: int, preexec: object = None) -> list[str]:
    """Run WRITER in a subprocess (so resource limits stay there); its stdout lines."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(tests=str(ROOT / "tests")))
    (tmp_path / "tests_unit_helpers.py").write_text(HELPERS)
    out = subprocess.run([sys.executable, str(script), str(record_dir), str(steps)], check=False,
                         capture_output=True, text=True, timeout=60, preexec_fn=preexec, cwd=tmp_path)  # type: ignore[arg-type]
    assert "Traceback" not in out.stderr, out.stderr
    return out.stdout.splitlines()


HELPERS = textwrap.dedent("""
    from datetime import timedelta
    from actions.models import Click, Target
    from agent.recording.format import Step, utc_now

    def step(i, frame):
        t = utc_now()
        return Step(index=i, started=t, ended=t + timedelta(seconds=1), frame_before=frame,
                    actions=(Click(x=i, y=i, target=Target(label="x" * 2000)),), reasoning="r" * 5000)
""")


def test_read_only_record_dir(tmp_path: Path) -> None:
    with read_only(tmp_path), FolderRecorder(tmp_path / "recordings") as rec, pytest.raises(UsageError) as info:
        rec.start(Session(task="t"))
    message = str(info.value)
    assert message.startswith("cannot write the recording") and "--record-dir" in message
    assert ("Read-only file system" in message or "Permission denied" in message) and "\n" not in message


def _file_size_limit(limit: int) -> object:
    def preexec() -> None:
        import resource
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_full_disk_keeps_what_was_written_readable(tmp_path: Path) -> None:
    """A file-size limit stands in for a full disk (same OSError path, no root needed): steps.jsonl
    hits it mid-line; the writer reports one UsageError line and every earlier step still loads."""
    record_dir = tmp_path / "rec"
    lines = run_writer(tmp_path, record_dir, 200, _file_size_limit(64_000))
    assert lines[0].startswith("started") and lines[-1].startswith("usage-error cannot write the recording")
    assert "File too large" in lines[-1]
    written = sum(1 for line in lines if line.startswith("step"))
    assert written >= 3
    rec = load_recording(next(record_dir.iterdir()))
    assert [s.index for s in rec.steps] == list(range(written))
    assert not any("truncated" in w for w in rec.warnings)  # the partial line was rolled back


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tiny tmpfs needs root; the rlimit test covers the path")
def test_no_space_left_on_device(tmp_path: Path) -> None:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)], check=True)
    try:
        lines = run_writer(tmp_path, mnt, 200)
        assert lines[-1].startswith("usage-error cannot write the recording") and "No space left" in lines[-1]
        written = sum(1 for line in lines if line.startswith("step"))
        rec = load_recording(next(mnt.iterdir()))
        assert len(rec.steps) == written >= 1 and not rec.missing_frames
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
