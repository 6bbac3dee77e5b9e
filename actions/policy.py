"""What the guards enforce: the `Policy` settings model and its defaults (a value, no checks).

Settings (`[tool.uiagent.guards]`, CLI flags) build a Policy; `actions.guards` applies it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from actions.keys import parse_chord

DEFAULT_DENIED_CHORDS: tuple[str, ...] = (
    "ctrl+alt+backspace",  # kill the X server
    "ctrl+alt+delete",     # log out / reboot
    *(f"ctrl+alt+f{n}" for n in range(1, 13)),  # switch virtual terminal
    "super+l",             # lock
    "ctrl+alt+l",          # lock (GNOME, Xfce)
    "ctrl+alt+shift+delete",
    "alt+sysrq", "alt+printscreen",  # magic SysRq
)

# A command position: the start of the text or of a shell segment (after ; & | ( ` or $( ).
_CMD = r"(?:^|[;&|({`\n]|\$\()\s*"

# Matched against normalised typed text (see `normalise_command`).
DEFAULT_TEXT_DENY: tuple[str, ...] = (
    _CMD + r"mkfs(?:\.\w+)?\b",
    _CMD + r"dd\b.*\bof=/dev/",
    r">\s*/dev/(?:sd|nvme|hd|vd|mmcblk)",
    r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;?\s*:",  # the classic fork bomb
    r"\b(\w+)\(\)\s*\{\s*\1\s*\|\s*\1\s*&\s*\}",     # a renamed one
    _CMD + r"(?:shutdown|reboot|halt|poweroff)\b",
    _CMD + r"(?:tel)?init\s+[06]\b",
    _CMD + r"systemctl\s+(?:poweroff|reboot|halt|kexec)\b",
    r"\b(?:curl|wget)\b[^|]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b",
    r"\bdrop\s+(?:table|database|schema)\b",
    r"\btruncate\s+table\b",
    r"\bformat\s+[a-z]:",
    r"\bchmod\s+(?:-\S+\s+)*0?777\s+/(?:\s|$)",
    r"\bchown\s+-\S*r\S*\s+\S+\s+/(?:\s|$)",
    r"\bmv\s+(?:-\S+\s+)*(?:/|~)\s+/dev/null",
    r"\bgit\s+push\s+(?:\S+\s+)*(?:--force|-f)\b",
    r"\bdel\s+/[sq]\b",
)

DEFAULT_SENSITIVE_WINDOWS: tuple[str, ...] = (
    "password", "passwd", "keychain", "keyring", "seahorse", "kwallet", "1password", "bitwarden",
    "keepass", "bank", "paypal", "credit card", "checkout", "payment", "wallet", "authenticator",
    "sudo", "polkit", "gksu", "authentication required",
)


# WM_CLASS of terminal emulators (lower case); any class containing "terminal" counts too.
DEFAULT_TERMINALS: tuple[str, ...] = (
    "xterm", "uxterm", "gnome-terminal", "gnome-terminal-server", "konsole", "alacritty", "kitty",
    "xfce4-terminal", "terminator", "tilix", "urxvt", "rxvt", "st", "st-256color", "foot", "wezterm",
    "org.wezfurlong.wezterm", "lxterminal", "mate-terminal", "qterminal", "sakura", "terminology",
    "guake", "tilda", "yakuake", "cool-retro-term", "tabby", "ghostty", "com.mitchellh.ghostty",
    "blackbox", "ptyxis", "kgx", "org.gnome.console", "eterm", "aterm", "mlterm", "roxterm", "hyper",
    "contour", "rio",
)


class Policy(BaseModel):
    """Guard settings; from `[tool.uiagent.guards]` in pyproject.toml and CLI flags."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    denied_chords: tuple[str, ...] = DEFAULT_DENIED_CHORDS
    text_deny_patterns: tuple[str, ...] = DEFAULT_TEXT_DENY
    extra_text_deny_patterns: tuple[str, ...] = ()
    sensitive_windows: tuple[str, ...] = DEFAULT_SENSITIVE_WINDOWS
    terminal_windows: tuple[str, ...] = Field(
        default=DEFAULT_TERMINALS, description="Window classes whose input lines are judged as shell commands")
    scan_screen_text: bool = Field(default=True, description="Read the screen's text every step to catch "
                                                              "on-screen prompt injection")
    secret_visible: tuple[str, ...] = Field(default=(), description="Secrets that may be typed where they "
                                            "show (not only into password fields), e.g. a terminal")
    max_denials: int = Field(default=3, ge=1, description="Stop the run after this many denied actions")
    max_actions: int = Field(default=20, ge=1, description="Rate limit: actions per window")
    rate_window_s: float = Field(default=1.0, gt=0)
    failsafe_corners: bool = True
    confirm: Literal["never", "risky", "always"] = "risky"

    def is_terminal(self, app: str) -> bool:
        cls = app.lower()
        return cls in self.terminal_windows or "terminal" in cls

    @field_validator("denied_chords", mode="after")
    @classmethod
    def _chords_parse(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for chord in value:
            parse_chord(chord)  # raises UsageError for an unknown key name
        return value

    @field_validator("text_deny_patterns", "extra_text_deny_patterns", mode="after")
    @classmethod
    def _patterns_compile(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"bad regular expression {pattern!r}: {e}") from None
        return value
