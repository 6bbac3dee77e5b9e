"""One table of key names.

Canonical names are short and lower-case (`ctrl`, `enter`, `pagedown`, `super`, `f5`, `a`, `+`).
Every spelling the providers and X11 use maps onto them: Anthropic and xdotool keysyms
(`Return`, `Page_Down`, `KP_Enter`, `super_l`), OpenAI's CUA (`CTRL`, `ARROWLEFT`, `ENTER`),
UI-TARS (`ctrl c`, space separated), and the usual synonyms (cmd, win, meta, option, del, esc).
"""

from __future__ import annotations

import string

from actions.errors import UsageError

MODIFIERS: frozenset[str] = frozenset({"ctrl", "alt", "shift", "super"})

DEFAULT_KILL_HOTKEY = "ctrl+alt+shift+k"  # the kill switch (actions.killswitch), unless settings say otherwise

_NAMED = (
    "enter esc tab space backspace delete insert home end pageup pagedown up down left right "
    "capslock numlock scrolllock printscreen pause menu "
    "num0 num1 num2 num3 num4 num5 num6 num7 num8 num9"
).split()
_FUNCTION = [f"f{n}" for n in range(1, 25)]
_PRINTABLE = list(string.ascii_lowercase + string.digits + "`-=[]\\;',./!@#$%^&*()_+{}|:\"<>?~")

CANONICAL: frozenset[str] = frozenset([*MODIFIERS, *_NAMED, *_FUNCTION, *_PRINTABLE])

# Lower-cased, with "_", "-" and spaces removed, before lookup (so "Page_Down" == "pagedown").
ALIASES: dict[str, str] = {
    # modifiers
    "control": "ctrl", "controll": "ctrl", "controlr": "ctrl", "ctrll": "ctrl", "ctrlr": "ctrl",
    "alt": "alt", "altl": "alt", "altr": "alt", "option": "alt", "opt": "alt", "altgr": "alt",
    "meta": "super", "metal": "super", "cmd": "super", "command": "super", "win": "super",
    "windows": "super", "superl": "super", "superr": "super", "winleft": "super", "os": "super",
    "shiftl": "shift", "shiftr": "shift",
    # named keys
    "return": "enter", "kpenter": "enter", "ret": "enter", "newline": "enter",
    "escape": "esc", "backspace": "backspace", "bksp": "backspace", "bs": "backspace",
    "del": "delete", "kpdelete": "delete", "ins": "insert", "kpinsert": "insert",
    "pgup": "pageup", "prior": "pageup", "kppageup": "pageup", "kpprior": "pageup",
    "pgdn": "pagedown", "pgdown": "pagedown", "next": "pagedown", "kppagedown": "pagedown",
    "kpnext": "pagedown", "kphome": "home", "kpend": "end",
    "arrowup": "up", "arrowdown": "down", "arrowleft": "left", "arrowright": "right",
    "kpup": "up", "kpdown": "down", "kpleft": "left", "kpright": "right",
    "spacebar": "space", "kpspace": "space", "tab": "tab", "kptab": "tab", "isolefttab": "tab",
    "capslock": "capslock", "caps": "capslock", "print": "printscreen", "prtsc": "printscreen",
    "prtscr": "printscreen", "sysrq": "printscreen", "break": "pause", "apps": "menu",
    "contextmenu": "menu",
    # punctuation by keysym name
    "plus": "+", "minus": "-", "equal": "=", "equals": "=", "comma": ",", "period": ".", "dot": ".",
    "slash": "/", "backslash": "\\", "semicolon": ";", "apostrophe": "'", "quote": "'",
    "quotedbl": '"', "grave": "`", "backtick": "`", "bracketleft": "[", "bracketright": "]",
    "braceleft": "{", "braceright": "}", "parenleft": "(", "parenright": ")", "asterisk": "*",
    "underscore": "_", "exclam": "!", "at": "@", "numbersign": "#", "dollar": "$", "percent": "%",
    "asciicircum": "^", "ampersand": "&", "colon": ":", "less": "<", "greater": ">",
    "question": "?", "bar": "|", "asciitilde": "~",
    # keypad operators
    "kpadd": "+", "kpsubtract": "-", "kpmultiply": "*", "kpdivide": "/", "kpdecimal": ".",
    "kpequal": "=",
    **{f"kp{d}": f"num{d}" for d in range(10)},
}


def canonical_key(name: str) -> str:
    """Return the canonical name of one key, or raise UsageError naming it."""
    if len(name) == 1:
        key = name.lower()
        if key in CANONICAL:
            return key
    folded = name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    if folded in CANONICAL:
        return folded
    if folded in ALIASES:
        return ALIASES[folded]
    raise UsageError(f"unknown key name {name!r}: use names such as ctrl, alt, shift, super, enter, "
                     "esc, tab, pagedown, left, f5 or a single character")


def split_chord(chord: str) -> list[str]:
    """Split `ctrl+shift+t`, `ctrl-c`, `ctrl c` or `ctrl++` into key names (not yet canonical)."""
    text = chord.strip()
    if not text:
        raise UsageError("empty key chord: give keys such as ctrl+s or Return")
    if len(text) == 1:
        return [text]
    sep = "+" if "+" in text else (" " if " " in text else None)
    if sep is None and "-" in text.strip("-") and text.lower() not in ALIASES:
        sep = "-"  # emacs style ctrl-c, but not a name like "Page-Down" that folds to one key
        parts = text.split(sep)
        if all(_is_key(p) for p in parts):
            return parts
        return [text]
    if sep is None:
        return [text]
    parts = text.split(sep)
    keys: list[str] = []
    for i, part in enumerate(parts):
        if part == "" and i == len(parts) - 1 and keys and keys[-1] == "":
            keys[-1] = sep  # "ctrl++": the last key is the separator itself
        else:
            keys.append(part.strip() if sep == "+" else part)
    if any(k == "" for k in keys):
        raise UsageError(f"malformed key chord {chord!r}: write keys joined by '+', e.g. ctrl+shift+t")
    return keys


def _is_key(name: str) -> bool:
    try:
        canonical_key(name)
    except UsageError:
        return False
    return True


def parse_chord(chord: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Canonical keys of a chord: modifiers first in a fixed order, then the other keys in order."""
    names = split_chord(chord) if isinstance(chord, str) else list(chord)
    if not all(isinstance(n, str) for n in names):
        raise UsageError(f"bad key chord {chord!r}: key names are strings, e.g. ctrl+s or [\"ctrl\", \"s\"]")
    if not names:
        raise UsageError("empty key chord: give keys such as ctrl+s or Return")
    keys = [canonical_key(n) for n in names]
    mods = [m for m in ("ctrl", "alt", "shift", "super") if m in keys]
    rest = [k for k in keys if k not in MODIFIERS]
    return (*mods, *dict.fromkeys(rest))


def format_chord(keys: tuple[str, ...] | list[str]) -> str:
    """`('ctrl', '+')` -> `ctrl++`; the inverse of parse_chord for canonical keys."""
    return "+".join(keys)
