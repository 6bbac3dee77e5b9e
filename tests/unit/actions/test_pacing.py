"""The input pace: per window class, configured under [tool.uiagent.input]."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.desktop.pacing import InputPacing, Pace
from actions.errors import UsageError
from agent.settings import load_settings


def test_libreoffice_windows_get_the_slower_pace_and_others_the_default() -> None:
    pacing = InputPacing()
    assert pacing.for_window("libreoffice-calc") == pacing.windows["libreoffice"]
    assert pacing.for_window("Soffice") == pacing.windows["soffice"]
    assert pacing.for_window("Mousepad") == pacing.for_window("") == Pace()
    assert pacing.for_window("libreoffice-calc").key_delay_s > Pace().key_delay_s


def test_the_longest_matching_class_wins() -> None:
    pacing = InputPacing(windows={"office": Pace(key_delay_s=0.1), "libreoffice-calc": Pace(key_delay_s=0.2)})
    assert pacing.for_window("libreoffice-calc").key_delay_s == 0.2
    assert pacing.for_window("libreoffice-writer").key_delay_s == 0.1


def test_pace_and_waits_come_from_pyproject(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.uiagent.input]\nready_timeout_s = 5\ncheck = false\n"
                    "windows = {myapp = {key_delay_s = 0.02}}\n")
    s = load_settings(pyproject=path)
    assert s.input.ready_timeout_s == 5 and s.input.check is False
    assert s.input.for_window("MyApp").key_delay_s == 0.02 and s.input.for_window("MyApp").chord_delay_s == 0.03


def test_a_bad_pace_is_one_line_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.uiagent.input]\ndefault = {key_delay_s = -1}\n")
    with pytest.raises(UsageError, match=r"^bad setting: input\.default\.key_delay_s: .*greater than or equal to 0"):
        load_settings(pyproject=path)
