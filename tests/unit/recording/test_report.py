"""`uiagent show`: report content, alignment, and bad input (one line, exit 2, nothing overwritten)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from actions.errors import UsageError
from agent.recording.format import load_recording
from agent.recording.report import _align, render_report, signature, write_report
from tests.conftest import run_cli
from tests.recording_samples import read_only, write_sample


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "a", steps=8, distinct=3, size=(960, 540))


def snapshot(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_report_is_self_contained_and_embeds_each_frame_once(folder: Path) -> None:
    html, warnings = render_report(load_recording(folder))
    assert warnings == ()
    assert html.count("data:image/jpeg;base64,") == 3  # 3 distinct frames, 8 steps
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "@import" not in html
    assert "http://" not in html and "https://" not in html
    for i in range(8):
        assert f'id="step-{i}"' in html and f'href="#step-{i}"' in html
    assert 'id="first-error" href="#step-6"' in html
    assert "<details class=\"raw\"><summary>raw model output</summary>" in html


def test_text_is_escaped(tmp_path: Path) -> None:
    folder = write_sample(tmp_path, steps=2, distinct=1, size=(320, 200), task="<script>alert(1)</script>")
    html, _ = render_report(load_recording(folder))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_alignment_marks_the_first_divergence(tmp_path: Path) -> None:
    a = load_recording(write_sample(tmp_path / "a", steps=8, distinct=1, size=(320, 200)))
    b = load_recording(write_sample(tmp_path / "b", steps=8, distinct=1, size=(320, 200), diverge_at=5))
    assert signature(a.steps[0]) == ("click:Button 0",) and signature(a.steps[3]) == ("type:hello world",)
    rows, divergence = _align(a.steps, b.steps)
    assert divergence == 5 and [r.kind for r in rows] == ["equal"] * 5 + ["replace"] * 2 + ["equal"]
    rows, divergence = _align(a.steps, a.steps[:3] + a.steps[4:])
    assert divergence == 3 and rows[3].kind == "delete" and rows[3].a == 3 and rows[3].b is None
    assert _align(a.steps, a.steps)[1] is None


def test_show_prints_the_path(folder: Path) -> None:
    result = run_cli("show", str(folder))
    assert result.returncode == 0 and result.stdout.strip() == str(folder / "report.html")
    assert result.stderr == ""


def _one_line_error(result: object, code: int = 2) -> str:
    assert result.returncode == code, result.stderr  # type: ignore[attr-defined]
    err: str = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_show_not_a_recording(tmp_path: Path) -> None:
    err = _one_line_error(run_cli("show", str(tmp_path)))
    assert err == f"uiagent: error: {tmp_path} is not a recording: it has no session.json"
    assert list(tmp_path.iterdir()) == []  # no report written into a random folder
    err = _one_line_error(run_cli("show", str(tmp_path / "missing")))
    assert "no such folder" in err


def test_show_wrong_version(folder: Path) -> None:
    session = json.loads((folder / "session.json").read_text())
    (folder / "session.json").write_text(json.dumps({**session, "version": 99}))
    err = _one_line_error(run_cli("show", str(folder)))
    assert "format 99, newer than this uiagent reads" in err and not (folder / "report.html").exists()


def test_show_truncated_steps_and_missing_frames_still_report(folder: Path) -> None:
    steps = folder / "steps.jsonl"
    steps.write_bytes(steps.read_bytes()[:-100])
    frame = load_recording(folder).steps[0].frame_before
    assert frame
    (folder / "frames" / frame).unlink()
    result = run_cli("show", str(folder))
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.strip().splitlines()
    assert any("truncated" in w for w in warnings) and any("missing" in w and frame in w for w in warnings)
    assert all(w.startswith("uiagent: warning: ") for w in warnings)
    html = (folder / "report.html").read_text()
    assert html.count('class="step') == 7 and f"frame missing: {frame}" in html and "truncated" in html


def test_show_never_overwrites_other_files(folder: Path, tmp_path: Path) -> None:
    before = snapshot(folder)
    for target in (folder / "session.json", folder / "steps.jsonl", folder / "frames" / "x.html"):
        err = _one_line_error(run_cli("show", str(folder), "--out", str(target)))
        assert "only report.html may be written" in err
    err = _one_line_error(run_cli("show", str(folder), "--out", str(tmp_path)))
    assert "is a folder" in err
    err = _one_line_error(run_cli("show", str(folder), "--out", str(tmp_path / "nope" / "r.html")))
    assert "does not exist" in err
    err = _one_line_error(run_cli("show", str(folder), "--diff", str(tmp_path / "nope")))
    assert "not a recording" in err
    assert snapshot(folder) == before


def test_unwritable_recording_folder(folder: Path, tmp_path: Path) -> None:
    with read_only(folder):
        with pytest.raises(UsageError, match=r"cannot write the report .*report.html: .* --out\)$"):
            write_report(folder)
        err = _one_line_error(run_cli("show", str(folder)))
        assert err.startswith("uiagent: error: cannot write the report")
        out = tmp_path / "elsewhere.html"
        assert write_report(folder, out=out).path == out and out.stat().st_size > 10_000


def test_the_report_says_what_each_action_waited_for(folder: Path) -> None:
    import dataclasses

    from agent.perception.reaction import Reaction

    rec = load_recording(folder)
    waited = (Reaction(), Reaction(deadline_s=1.0, waited_for=("pixels", "windows"), signal="screen", reacted_s=0.913,
                                   settled_s=0.948), Reaction(deadline_s=1.0, waited_for=("pixels",), signal="none",
                                                              settled_s=1.05))
    first = rec.steps[0].model_copy(update={"reactions": waited})
    html, _ = render_report(dataclasses.replace(rec, steps=(first, *rec.steps[1:])))
    assert "action 2: waited up to 1 s for a reaction (pixels, windows): screen after 913 ms; still after 948 ms" in html
    assert "action 3: waited up to 1 s for a reaction (pixels): nothing changed; still after 1050 ms" in html
    assert html.count('class="meta reaction"') == 2  # a wait or a move expects none
