"""The public surface of `import uiagent` is exactly `__all__` (httpx's tests/test_exported_members.py),
and importing it loads no model SDK (click's tests/test_imports.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import uiagent


def test_all_exports_are_the_public_names() -> None:
    public = {name for name in dir(uiagent) if not name.startswith("_")} - {"actions", "agent"}
    assert set(uiagent.__all__) - {"__version__"} == public
    assert sorted(uiagent.__all__, key=str.lower) == sorted(set(uiagent.__all__), key=str.lower)  # no twice


def test_the_documented_surface_is_there() -> None:
    for name in ("run_agent", "run_task", "Desktop", "PyAutoGUIDesktop", "FakeDesktop", "DryRunDesktop", "Click",
                 "parse_action", "load_recording", "replay_recording", "UI", "Settings", "Planner", "VirtualDisplay"):
        assert name in uiagent.__all__, name
    assert uiagent.parse_action({"kind": "click", "x": 1, "y": 2}) == uiagent.Click(x=1, y=2)


def test_import_uiagent_loads_no_model_sdk() -> None:
    probe = "import sys, json, uiagent; print(json.dumps(sorted(m for m in ('anthropic', 'openai') if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
