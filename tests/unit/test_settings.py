"""Settings layers: defaults < [tool.uiagent] in pyproject.toml < UIAGENT_* env < CLI flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.desktop.base import ScreenGeometry
from actions.errors import UsageError
from actions.guards import GuardContext, check
from actions.models import Key, Type
from agent.settings import load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return path


def test_pyproject_env_and_flags_layer_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[tool.uiagent]\nmax_steps = 12\nmodel = "openai:gpt-4o"\n'
                           '[tool.uiagent.guards]\nconfirm = "always"\ndenied_chords = ["ctrl+q"]\n'
                           'extra_text_deny_patterns = ["terraform destroy"]\n')
    s = load_settings(pyproject=path)
    assert (s.max_steps, s.model, s.confirm) == (12, "openai:gpt-4o", "always")
    ctx = GuardContext(screen=ScreenGeometry(width=10, height=10, monitors=()))
    assert check(Key(chord="ctrl+q"), ctx, s.guards).decision == "deny"
    assert check(Type(text="terraform destroy -auto-approve"), ctx, s.guards).decision == "deny"
    monkeypatch.setenv("UIAGENT_MAX_STEPS", "7")
    assert load_settings(pyproject=path).max_steps == 7
    assert load_settings({"max_steps": 3, "guards.confirm": "never"}, pyproject=path).max_steps == 3
    assert load_settings({"guards.confirm": "never"}, pyproject=path).confirm == "never"


def test_reaction_deadlines_per_kind_and_app_from_pyproject(tmp_path: Path) -> None:
    path = write(tmp_path, '[tool.uiagent.reaction]\ndeadline_s = 0.8\nkey_s = 1.5\n'
                           '[tool.uiagent.reaction.apps]\nsoffice = 3\nMousepad = { type_s = 0.5 }\n')
    r = load_settings(pyproject=path).reaction
    assert (r.deadline("click"), r.deadline("key"), r.deadline("click", "Soffice")) == (0.8, 1.5, 3.0)
    assert (r.deadline("type", "mousepad"), r.deadline("key", "mousepad")) == (0.5, 1.5)
    assert load_settings({"reaction.click_s": 2.0}, pyproject=path).reaction.deadline("click") == 2.0
    assert load_settings(pyproject=write(tmp_path, "")).reaction.deadline("click") == 1.0


@pytest.mark.parametrize("text, message", [
    ("[tool.uiagent]\nmax_steps = 0\n", "max_steps"),
    ("[tool.uiagent]\nfrobnicate = 1\n", "frobnicate"),
    ("[tool.uiagent.guards]\nconfirm = \"sometimes\"\n", "confirm"),
    ("[tool.uiagent.guards]\ndenied_chords = [\"ctrl+nokey\"]\n", "unknown key name 'nokey'"),
    ("[tool.uiagent\n", "cannot read"),
    ("[tool.uiagent.reaction]\nclick_s = -1\n", "click_s"),
    ("[tool.uiagent.reaction]\nclik_s = 1\n", "clik_s"),
    ("[tool.uiagent.reaction.apps]\nxcalc = \"soon\"\n", "xcalc"),
])
def test_bad_settings_are_one_line_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        load_settings(pyproject=write(tmp_path, text))
    assert "\n" not in str(info.value)
