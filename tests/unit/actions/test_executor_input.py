"""The executor judges what the window will receive: whole lines across actions, key by key,
untypable characters, chord supersets; it keeps count of denials and never leaks a secret."""

from __future__ import annotations

import logging

import pytest

from actions.desktop.base import WindowInfo
from actions.desktop.fake import FakeDesktop
from actions.executor import Executor
from actions.models import Click, Key, Type
from actions.policy import Policy
from actions.secrets import Redactor

XTERM = WindowInfo(title="bash", app="XTerm", window_id=7)


def run(ex: Executor, *actions: Type | Key | Click) -> list[str]:
    return [ex.execute(a).status for a in actions]


def test_a_command_split_across_actions_is_denied_when_return_commits_it() -> None:
    d = FakeDesktop(window=XTERM)
    ex = Executor(d)
    assert run(ex, Type(text="rm -rf "), Type(text="~"), Key(chord="Return")) == ["performed", "performed", "denied"]
    assert ("press", ("enter",)) not in d.calls  # the line is still there, unsent
    assert ex.denied[0].verdict.guard in ("line_denied", "shell")


def test_key_by_key_and_backspace_are_judged_as_the_resulting_line() -> None:
    ex = Executor(FakeDesktop(window=XTERM))
    chords = ["r", "m", "space", "minus", "r", "f", "space", "asciitilde", "Return"]
    assert run(ex, *(Key(chord=c) for c in chords))[-1] == "denied"
    ex = Executor(FakeDesktop(window=XTERM))
    assert run(ex, Type(text="rm -rf ~Z\b\n")) == ["denied"]


def test_a_line_in_another_window_does_not_mix_with_this_one() -> None:
    d = FakeDesktop(window=XTERM)
    ex = Executor(d)
    run(ex, Type(text="rm -rf "))
    d.window = WindowInfo(title="notes", app="Mousepad", window_id=9)
    assert run(ex, Type(text="~"), Key(chord="Return")) == ["performed", "performed"]


@pytest.mark.parametrize("text", ["r\u200bm -rf ~", "rm -rf ~\u00e9"])
def test_characters_the_desktop_would_drop_are_refused_not_dropped(text: str) -> None:
    d = FakeDesktop(window=XTERM)
    result = Executor(d).execute(Type(text=text))
    assert result.status == "invalid" and "cannot type U+" in (result.error or "") and d.calls == []


@pytest.mark.parametrize("chord", ["ctrl+alt+shift+BackSpace", "ctrl+alt+shift+F1", "super+shift+l", "ctrl+super+l"])
def test_a_chord_containing_a_denied_chord_is_denied(chord: str) -> None:
    assert Executor(FakeDesktop()).execute(Key(chord=chord)).status == "denied"


def test_a_terminal_line_recalled_from_history_needs_confirmation() -> None:
    asked = []
    ex = Executor(FakeDesktop(window=XTERM), confirm=lambda a, v: asked.append(v.reason) or False)
    assert run(ex, Key(chord="Up"), Key(chord="Return")) == ["performed", "declined"]
    assert "cannot be checked" in asked[0]


def test_secrets_are_masked_in_reasons_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    ex = Executor(FakeDesktop(window=XTERM), Policy(secret_visible=("PW",)), redactor=Redactor({"PW": "hunter2-secret"}))
    caplog.set_level(logging.INFO, logger="actions.executor")
    result = ex.execute(Type(text="rm -rf ~ pw=hunter2-secret\n"))
    assert result.status == "denied" and "{{PW}}" in result.verdict.reason
    assert "hunter2" not in result.verdict.reason and "hunter2" not in caplog.text
    assert ex.execute(Type(text="echo hunter2-secret")).status == "performed"
    assert "hunter2" not in caplog.text and "{{PW}}" in caplog.text


def test_middle_click_paste_taints_the_terminal_line() -> None:
    ex = Executor(FakeDesktop(window=XTERM), confirm=lambda a, v: False)
    assert run(ex, Type(text="echo "), Click(x=10, y=10, button="middle"), Key(chord="Return"))[-1] == "declined"


def test_a_secret_is_typed_only_into_a_focused_password_field() -> None:
    d = FakeDesktop(window=XTERM)
    ex = Executor(d, redactor=Redactor({"PW": "hunter2", "TOKEN": "t0ken"}))
    refused = ex.execute(Type(text="login hunter2"), focused_role="terminal")
    assert refused.status == "denied" and "--secret-visible PW" in refused.verdict.reason
    assert "hunter2" not in refused.verdict.reason and d.calls == []
    assert ex.execute(Type(text="hunter2"), focused_role="password").status == "performed"
    ex = Executor(d, Policy(secret_visible=("PW",)), redactor=Redactor({"PW": "hunter2", "TOKEN": "t0ken"}))
    assert ex.execute(Type(text="hunter2"), focused_role="terminal").status == "performed"
    assert ex.execute(Type(text="t0ken")).status == "denied"  # only the named secret may show


def test_typing_cut_off_part_way_fails_and_taints_the_line_it_left() -> None:
    """Part of the text may have arrived: the line is no longer known, so committing it is asked."""
    from actions.errors import InputInterrupted

    class Interrupting(FakeDesktop):
        def type_text(self, text: str) -> None:
            if text == "-rf ~":
                raise InputInterrupted("'bash' lost the focus while typing: 2 of 5 characters were sent")
            super().type_text(text)

    asked = []
    ex = Executor(Interrupting(window=XTERM), confirm=lambda a, v: asked.append(v.reason) or False)
    cut = ex.execute(Type(text="-rf ~"))
    assert cut.status == "failed" and cut.error == "'bash' lost the focus while typing: 2 of 5 characters were sent"
    assert run(ex, Type(text="rm "), Key(chord="Return")) == ["performed", "declined"]
    assert "cut off" in asked[0]
