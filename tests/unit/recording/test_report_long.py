"""`uiagent show` on long or bloated recordings: within the 20 MB report budget and 300 MB of
memory, the first/last/failed steps in full and the rest as rows; a full disk is one line and
leaves no temp file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import status
from agent.recording.digest import FULL_FAILED, FULL_HEAD, FULL_TAIL
from agent.recording.report import REPORT_BUDGET, render_report, write_report
from agent.status import ListStatus
from tests.recording_samples import write_long_sample, write_sample

MEASURE = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "sys.stderr.write(r.stderr); print(r.stdout.strip()); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")


def show_measured(*args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run `uiagent show ARGS` and return it with its peak RSS in MB."""
    exe = Path(sys.executable).parent / "uiagent"
    r = subprocess.run([sys.executable, "-c", MEASURE, str(exe), "show", *args], capture_output=True, text=True,
                       timeout=170)
    lines = r.stdout.splitlines()
    return r, int(lines[-1]) // 1024 if lines else 0


@pytest.mark.slow
def test_10000_steps_stream_within_the_budget_and_300_mb(tmp_path: Path) -> None:
    folder = write_long_sample(tmp_path, steps=10_000, distinct=40, size=(640, 360))
    result, rss_mb = show_measured(str(folder))
    assert result.returncode == 0, result.stderr
    report = folder / "report.html"
    html = report.read_text()
    assert report.stat().st_size <= REPORT_BUDGET and rss_mb < 300, (report.stat().st_size, rss_mb)
    full = [int(i) for i in re.findall(r'<section class="step[^"]*" id="step-(\d+)"', html)]
    failed_between = [i for i in range(FULL_HEAD, 10_000 - FULL_TAIL) if i % 9 == 6][:FULL_FAILED]
    assert full == [*range(FULL_HEAD), *failed_between, *range(10_000 - FULL_TAIL, 10_000)]
    rows = re.findall(r'<tr id="step-(\d+)"', html)
    assert len(rows) == 10_000 - len(full) and '<tr id="step-5000"' in html
    assert f"{len(full)} of 10000 steps are shown in full" in html and '<b id="total-steps">10000</b>' in html
    assert re.search(r'<tr id="step-5000" class="[^"]*"><td>5000</td>.*?<a href="frames/[0-9a-f]{20}\.png">frame</a>',
                     html)


def test_100_steps_are_all_shown_in_full(tmp_path: Path) -> None:
    folder = write_long_sample(tmp_path, steps=100, distinct=12, size=(320, 200))
    html, warnings = render_report(folder)
    assert warnings == ()
    assert len(re.findall(r'<section class="step', html)) == 100 and 'id="summarised"' not in html
    assert "<tr id=" not in html


def test_show_says_what_it_is_doing_on_the_status_line(tmp_path: Path) -> None:
    folder = write_sample(tmp_path, steps=3, distinct=2, size=(320, 200))
    with status.use(ListStatus()) as sink:
        write_report(folder)
    assert sink.texts == [f"reading the steps of {folder.name}", "embedding 2 frame(s) in the report",
                          "writing report.html"]
    assert sink.cleared >= 1


def test_huge_recorded_fields_are_clipped(tmp_path: Path) -> None:
    folder = write_sample(tmp_path, steps=3, distinct=1, size=(320, 200))
    lines = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()]
    lines[1].update(raw_output="<b>x</b>" * 1_000_000, reasoning="r" * 3_000_000, notes=["n" * 1000] * 2000)
    (folder / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in lines))
    html, _ = render_report(folder)
    assert len(html) < 1_000_000
    assert "(7,980,000 more characters in steps.jsonl)" in html and "<b>x</b>" not in html
    assert "and 1980 more" in html


def test_a_line_over_the_limit_is_skipped_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.recording import format as fmt
    monkeypatch.setattr(fmt, "MAX_STEP_LINE", 10_000)
    folder = write_sample(tmp_path, steps=3, distinct=1, size=(320, 200))
    lines = (folder / "steps.jsonl").read_text().splitlines(keepends=True)
    (folder / "steps.jsonl").write_text(lines[0] + "{" + "x" * 50_000 + "\n" + lines[2])
    rec = fmt.load_recording(folder)
    assert [s.index for s in rec.steps] == [0, 2]
    assert any("line 2 (" in w for w in rec.warnings), rec.warnings


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 300 KB tmpfs (needs root: mount)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_one_line_and_leaves_no_temp_file(tmp_path: Path, small_disk: Path) -> None:
    folder = write_sample(tmp_path / "rec", steps=6, distinct=4, size=(1920, 1080))
    (small_disk / "filler").write_bytes(b"x" * 240_000)
    out = small_disk / "report.html"
    result, _ = show_measured(str(folder), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "disk full" in result.stderr and "Traceback" not in result.stderr
    assert [p.name for p in small_disk.iterdir()] == ["filler"]  # neither the report nor its .report.html.*.tmp
    recorded = folder / "report.html"
    assert run_show_ok(folder) and recorded.is_file()  # the recording itself is untouched and still shows


def run_show_ok(folder: Path) -> bool:
    result, _ = show_measured(str(folder))
    return result.returncode == 0
