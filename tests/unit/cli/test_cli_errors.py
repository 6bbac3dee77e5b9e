"""CLI errors without a display: one line, the contract's exit code, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import run_cli


def _no_display() -> dict[str, str]:
    return {"DISPLAY": ""}


def test_missing_display_is_a_usage_error() -> None:
    r = run_cli("act", "-", env=_no_display(), input='[{"kind":"click","x":1,"y":1}]')
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["uiagent: error: DISPLAY is not set: run inside an X session or add --virtual"]


def test_missing_xvfb_binary_names_the_fix(tmp_path: Path) -> None:
    r = run_cli("doctor", "--virtual", env={"PATH": str(tmp_path)})
    assert r.returncode == 2
    assert "Xvfb not found" in r.stderr and "apt-get install xvfb" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_virtual_size_and_unknown_option() -> None:
    r = run_cli("doctor", "--virtual", "12x5000")
    assert r.returncode == 2 and "out of range" in r.stderr
    r = run_cli("frobnicate")
    assert r.returncode == 2 and "No such command" in r.stderr


def test_doctor_reports_no_display_with_a_fix() -> None:
    r = run_cli("doctor", "--json", env=_no_display())
    assert r.returncode == 1
    assert '"usable": false' in r.stdout and "--virtual" in r.stdout


def test_help_is_fast_enough_to_feel_instant() -> None:
    """A smoke check only; the figure itself is measured in bench/cli_startup.py."""
    t0 = time.monotonic()
    r = run_cli("--help")
    assert r.returncode == 0 and "doctor" in r.stdout
    assert time.monotonic() - t0 < 3
