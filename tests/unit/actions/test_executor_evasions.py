"""Property tests: every denied line of the corpus stays unsent whatever shape the model gives it
(split across actions at any points, key by key in parts, BackSpace noise, untypable characters)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actions.desktop.base import WindowInfo
from actions.desktop.fake import FakeDesktop
from actions.executor import Executor
from actions.models import Action, Key, Type
from actions.policy import Policy
from tests.corpora import load_commands

DENIED = [line for cls, line in load_commands("destructive_commands.txt") if cls == "deny"]
XTERM = WindowInfo(title="bash", app="XTerm", window_id=3)
_NAMES = {" ": "space", "\t": "tab"}


def _keys(text: str) -> list[Action]:
    return [Key(chord=f"shift+{c.lower()}" if c.isupper() else _NAMES.get(c, c)) for c in text]


def _sent_a_line(actions: list[Action]) -> bool:
    """Whether a Return reached the desktop after the whole line was performed."""
    desktop = FakeDesktop(window=XTERM)
    ex = Executor(desktop, Policy(max_actions=10**9))
    for action in actions:
        if ex.execute(action).status != "performed":
            return False
    return any(c == ("press", ("enter",)) or (c[0] == "type" and "\n" in c[1]) for c in desktop.calls)


@st.composite
def shaped(draw: st.DrawFn) -> tuple[str, list[Action]]:
    """A denied line cut into pieces, each typed, typed key by key, or typed with BackSpace noise."""
    line = draw(st.sampled_from(DENIED))
    cuts = sorted(draw(st.sets(st.integers(1, max(len(line) - 1, 1)), max_size=4)))
    pieces = [line[a:b] for a, b in zip([0, *cuts], [*cuts, len(line)], strict=True) if line[a:b]]
    actions: list[Action] = []
    for piece in pieces:
        how = draw(st.sampled_from(["type", "keys", "noise"]))
        if how == "keys":
            actions += _keys(piece)
        elif how == "noise":
            junk = draw(st.text("xyzQ0 ", min_size=1, max_size=3))
            actions.append(Type(text=piece + junk + "\b" * len(junk)))
        else:
            actions.append(Type(text=piece))
    actions.append(draw(st.sampled_from([Key(chord="Return"), Key(chord="KP_Enter"), Key(chord="ctrl+j"),
                                         Type(text="\n")])))
    return line, actions


@settings(max_examples=200, deadline=None)
@given(shaped())
def test_a_denied_line_never_reaches_the_shell_in_any_shape(case: tuple[str, list[Action]]) -> None:
    line, actions = case
    assert not _sent_a_line(actions), line


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(DENIED), st.sampled_from(["\u200b", "\u00e9", "\u00a0", "\u2060", "\ufeff"]), st.data())
def test_an_untypable_character_anywhere_is_refused(line: str, char: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(line)))
    desktop = FakeDesktop(window=XTERM)
    result = Executor(desktop).execute(Type(text=line[:at] + char + line[at:] + "\n"))
    assert result.status == "invalid" and desktop.calls == []
