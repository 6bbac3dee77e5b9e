"""`uiagent demo`: the README's main job, end to end, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from agent.recording.format import load_recording
from tests.conftest import run_cli


def test_demo_computes_42_on_xcalc_and_writes_a_recording_and_report(tmp_path: Path) -> None:
    r = run_cli("demo", "--record-dir", str(tmp_path), "--json", env={"DISPLAY": ""}, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["status"] == "done" and summary["model_calls"] == 0 and summary["steps"] == 7
    rec = load_recording(summary["recording"])
    clicked = [a.target.label for s in rec.steps for a in s.actions if a.kind == "click"]
    assert clicked == ["1", "2", "+", "3", "0", "="]
    assert rec.steps[-1].reasoning.endswith("'verify 42': ok")  # 42 was read on screen by OCR
    assert (Path(summary["recording"]) / "report.html").is_file()
    assert "report:" in r.stderr
