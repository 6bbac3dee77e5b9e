"""What the app receives: untypable characters, key events, and the input line they leave."""

from __future__ import annotations

import pytest

from actions.delivery import InputLines, LineEditor, printed, run_events, text_events, untypable
from actions.keys import parse_chord


def keys(*chords: str) -> tuple[tuple[str, ...], ...]:
    return tuple(parse_chord(c) for c in chords)


@pytest.mark.parametrize(("text", "bad"), [
    ("rm -rf ~\u00e9", "U+00E9 LATIN SMALL LETTER E WITH ACUTE"),
    ("r\u200bm -rf ~", "U+200B ZERO WIDTH SPACE"),
    ("a\x00b", "U+0000 a control character"),
    ("tab\there\nnew\rline\b", ""),
    ("~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./ AZaz09", ""),
])
def test_untypable_names_the_first_character_the_desktop_would_drop(text: str, bad: str) -> None:
    assert untypable(text) == bad


def test_text_becomes_one_key_event_per_character() -> None:
    assert text_events("a\tB\n\b\r") == (("a",), ("tab",), ("B",), ("enter",), ("backspace",), ("enter",))


@pytest.mark.parametrize(("chord", "char"), [("a", "a"), ("shift+a", "A"), ("shift+1", "!"), ("space", " "),
                                             ("shift+slash", "?"), ("ctrl+a", None), ("enter", None)])
def test_printed_character_of_a_chord(chord: str, char: str | None) -> None:
    assert printed(parse_chord(chord)) == char


def test_backspace_typed_as_text_is_applied() -> None:
    commit = run_events(LineEditor(), text_events("rm -rf ~Z\b\n"))
    assert commit.lines == ("rm -rf ~",) and commit.tainted == ("",)


def test_key_by_key_and_editing_keys_build_the_line_the_shell_gets() -> None:
    events = keys("r", "m", "space", "minus", "r", "f", "space", "shift+grave") + keys("Return")
    assert run_events(LineEditor(), events).lines == ("rm -rf ~",)
    # typed out of order, then fixed with the cursor keys
    events = text_events("m -rf ~") + keys("Home") + text_events("r") + keys("End", "ctrl+j")
    assert run_events(LineEditor(), events).lines == ("rm -rf ~",)
    events = text_events("ls; echo rm -rf ~") + keys("ctrl+a", "ctrl+k") + text_events("rm -rf ~") + keys("KP_Enter")
    assert run_events(LineEditor(), events).lines == ("rm -rf ~",)


@pytest.mark.parametrize(("before", "chord", "after"), [
    ("echo hi there", "ctrl+w", "echo hi "), ("echo hi", "ctrl+u", ""), ("abc", "BackSpace", "ab"),
    ("abc", "ctrl+h", "ab"), ("abc", "ctrl+c", ""), ("rm -rf /ho", "Tab", "rm -rf /ho*"), ("abc", "F5", "abc"),
])
def test_editing_keys(before: str, chord: str, after: str) -> None:
    editor, committed = LineEditor(text=before, cursor=len(before)).feed(parse_chord(chord))
    assert editor.text == after and not committed and not editor.tainted


@pytest.mark.parametrize("chord", ["Up", "ctrl+r", "shift+Insert", "ctrl+shift+v", "ctrl+y", "alt+period", "Escape"])
def test_recalled_or_pasted_text_taints_the_line(chord: str) -> None:
    commit = run_events(LineEditor(), text_events("ls") + keys(chord, "Return"))
    assert commit.lines == ("ls",) and commit.tainted[0]


def test_each_window_keeps_its_own_line_and_a_commit_starts_afresh() -> None:
    lines = InputLines()
    lines.apply(1, lines.preview(1, text_events("rm -rf ")))
    lines.apply(2, lines.preview(2, text_events("hello")))
    assert lines.preview(1, text_events("~\n")).lines == ("rm -rf ~",)
    assert lines.preview(2, keys("Return")).lines == ("hello",)
    commit = lines.preview(1, text_events("~\necho ok\npartial"))
    assert commit.lines == ("rm -rf ~", "echo ok") and commit.after.text == "partial"
    lines.taint(2, "a middle click pasted the selection")
    assert lines.preview(2, keys("Return")).tainted == ("a middle click pasted the selection",)
