"""What the application will really receive: typed text and key chords as key events, and the
input line they leave behind in each window.

The guards judge the effect, not the text as written. pyautogui types only printable ASCII plus
Tab, Return (`\\n`, `\\r`) and BackSpace (`\\b`); anything else (`é`, a zero-width space) it drops
without a word, so `r\\u200bm -rf ~` reaches a shell as `rm -rf ~`. `untypable` finds such
characters so the executor refuses them, and `InputLines` replays every key event through a
small readline-like editor per window, so a command split over several actions, typed key by
key or edited with BackSpace is judged as the line the shell gets when Return is pressed.

What cannot be known from the keys alone taints the line instead of being guessed: history
recall (Up, ctrl+r), paste (shift+insert, ctrl+shift+v, a middle click), yank, Escape/alt
sequences. Tab (completion) is judged as `*`: the completed word is some expansion of its prefix,
which a glob over-approximates. A terminal's tainted line needs confirmation when committed.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass, field, replace

Chord = tuple[str, ...]  # canonical keys, modifiers first (actions.keys.parse_chord)

TYPABLE = frozenset(string.printable) - frozenset("\x0b\x0c") | {"\b"}
_TEXT_KEYS = {"\n": "enter", "\r": "enter", "\t": "tab", "\b": "backspace"}

# US layout: what shift makes of a key (pyautogui and xdotool assume it too).
_SHIFTED = dict(zip("`1234567890-=[]\\;',./", '~!@#$%^&*()_+{}|:"<>?', strict=True))

_COMMIT = {("enter",), ("ctrl", "j"), ("ctrl", "m")}
# Keys whose effect on the line cannot be known (history, paste, Escape's meta prefix). Every ctrl,
# alt or super chord the editor does not handle counts too (ctrl+r, ctrl+y, ctrl+shift+v, alt+.).
_UNKNOWABLE = {("up",), ("down",), ("shift", "insert"), ("esc",)}
_UNKNOWN_MODIFIERS = ("ctrl", "alt", "super")


def untypable(text: str) -> str:
    """A description of the first character the desktop cannot type (it would be dropped), or ''."""
    for ch in text:
        if ch not in TYPABLE:
            name = unicodedata.name(ch, "a control character")
            return f"U+{ord(ch):04X} {name}"
    return ""


def text_events(text: str) -> tuple[Chord, ...]:
    """The key events `type_text` sends for (typable) text: one per character."""
    return tuple((_TEXT_KEYS[ch],) if ch in _TEXT_KEYS else (ch,) for ch in text)


def printed(chord: Chord) -> str | None:
    """The character a chord types, if it types one (`a`, `shift+a` -> `A`, `shift+1` -> `!`)."""
    *mods, key = chord
    if mods not in ([], ["shift"]):
        return None
    if key == "space":
        return " "
    if len(key) != 1:
        return None
    if not mods:
        return key
    return key.upper() if key.isalpha() else _SHIFTED.get(key, key)


@dataclass(frozen=True)
class LineEditor:
    """One window's pending input line: text, cursor and whether keys made it unknowable."""

    text: str = ""
    cursor: int = 0
    tainted: str = ""  # why the line is not known exactly, if it is not

    def feed(self, chord: Chord) -> tuple[LineEditor, bool]:
        """The editor after one key event, and whether that event committed the line."""
        if chord in _COMMIT:
            return self, True
        if (ch := printed(chord)) is not None:
            return self._insert(ch), False
        return self._edit(chord), False

    def _insert(self, ch: str) -> LineEditor:
        return replace(self, text=self.text[:self.cursor] + ch + self.text[self.cursor:], cursor=self.cursor + 1)

    def _edit(self, chord: Chord) -> LineEditor:
        t, c = self.text, self.cursor
        match chord:
            case ("backspace",) | ("ctrl", "h"):
                return replace(self, text=t[:max(c - 1, 0)] + t[c:], cursor=max(c - 1, 0))
            case ("delete",) | ("ctrl", "d"):
                return replace(self, text=t[:c] + t[c + 1:])
            case ("left",) | ("ctrl", "b"):
                return replace(self, cursor=max(c - 1, 0))
            case ("right",) | ("ctrl", "f"):
                return replace(self, cursor=min(c + 1, len(t)))
            case ("home",) | ("ctrl", "a"):
                return replace(self, cursor=0)
            case ("end",) | ("ctrl", "e"):
                return replace(self, cursor=len(t))
            case ("ctrl", "u"):
                return replace(self, text=t[c:], cursor=0)
            case ("ctrl", "k"):
                return replace(self, text=t[:c])
            case ("ctrl", "w"):
                start = len(t[:c].rstrip()) - len(t[:c].rstrip().split(" ")[-1])
                return replace(self, text=t[:start] + t[c:], cursor=start)
            case ("ctrl", "c"):
                return LineEditor()  # the shell abandons the line
            case ("tab",):
                return self._insert("*")  # completion: some expansion of the word, judged as a glob
        if chord in _UNKNOWABLE or any(m in chord for m in _UNKNOWN_MODIFIERS):
            return replace(self, tainted=self.tainted or f"{'+'.join(chord)} recalls or pastes text")
        return self  # function keys, page keys, ...: no effect on the line


@dataclass(frozen=True)
class Commit:
    """What an action would do to a window's line: the lines it commits, and the line left after."""

    lines: tuple[str, ...] = ()
    tainted: tuple[str, ...] = ()  # per committed line: why it is not known exactly, or ''
    after: LineEditor = LineEditor()


def run_events(editor: LineEditor, events: tuple[Chord, ...]) -> Commit:
    """Feed key events to an editor; every commit ends one line and starts an empty one."""
    lines: list[str] = []
    tainted: list[str] = []
    for chord in events:
        editor, committed = editor.feed(chord)
        if committed:
            lines.append(editor.text)
            tainted.append(editor.tainted)
            editor = LineEditor()
    return Commit(lines=tuple(lines), tainted=tuple(tainted), after=editor)


@dataclass
class InputLines:
    """The pending input line of every window the agent typed into (keyed by X window id)."""

    editors: dict[int, LineEditor] = field(default_factory=dict)

    def preview(self, window: int, events: tuple[Chord, ...]) -> Commit:
        return run_events(self.editors.get(window, LineEditor()), events)

    def apply(self, window: int, commit: Commit) -> None:
        """The action was performed: keep the line it left."""
        self.editors[window] = commit.after

    def taint(self, window: int, why: str) -> None:
        """Something we cannot see went into the window's line (a middle-click paste)."""
        editor = self.editors.get(window, LineEditor())
        self.editors[window] = replace(editor, tainted=editor.tainted or why)
