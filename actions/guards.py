"""Safety guards: pure checks that run before every action.

A guard takes (action, context, policy) and returns a `Verdict`: allow, deny with a reason, or
confirm with a reason. They never raise and never touch the desktop; the executor runs them
all and acts on the strictest verdict (deny > confirm > allow).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from actions.desktop.base import ScreenGeometry, WindowInfo
from actions.keys import parse_chord
from actions.models import ALLOW, Action, Key, Type, Verdict, action_points

_RANK = {"allow": 0, "confirm": 1, "deny": 2}

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


class Policy(BaseModel):
    """Guard settings; from `[tool.uiagent.guards]` in pyproject.toml and CLI flags."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    denied_chords: tuple[str, ...] = DEFAULT_DENIED_CHORDS
    text_deny_patterns: tuple[str, ...] = DEFAULT_TEXT_DENY
    extra_text_deny_patterns: tuple[str, ...] = ()
    sensitive_windows: tuple[str, ...] = DEFAULT_SENSITIVE_WINDOWS
    max_actions: int = Field(default=20, ge=1, description="Rate limit: actions per window")
    rate_window_s: float = Field(default=1.0, gt=0)
    failsafe_corners: bool = True
    confirm: Literal["never", "risky", "always"] = "risky"

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


class GuardContext(BaseModel):
    """What the guards may look at besides the action. Built by the executor per action."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    screen: ScreenGeometry
    window: WindowInfo = WindowInfo()
    now: float = 0.0
    recent: tuple[float, ...] = ()  # monotonic times of recently performed actions
    injection: str | None = None    # on-screen text that tried to steer the agent, if seen


Guard = Callable[[Action, GuardContext, Policy], Verdict]


def deny(guard: str, reason: str) -> Verdict:
    return Verdict(decision="deny", reason=reason, guard=guard)


def confirm(guard: str, reason: str) -> Verdict:
    return Verdict(decision="confirm", reason=reason, guard=guard)


# --------------------------------------------------------------------------- guards


def on_screen(action: Action, ctx: GuardContext, policy: Policy) -> Verdict:
    w, h = ctx.screen.width, ctx.screen.height
    corners = {(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)}
    for p in action_points(action):
        if not ctx.screen.contains(p.x, p.y):
            return deny("on_screen", f"point ({p.x}, {p.y}) is outside the {w}x{h} screen")
        if policy.failsafe_corners and (p.x, p.y) in corners:
            return deny("on_screen", f"point ({p.x}, {p.y}) is a screen corner, reserved for the fail-safe")
    return ALLOW


def chord_denied(action: Action, ctx: GuardContext, policy: Policy) -> Verdict:
    if not isinstance(action, Key):
        return ALLOW
    pressed = set(action.keys)
    for chord in policy.denied_chords:
        if set(parse_chord(chord)) == pressed:
            return deny("chord_denied", f"key chord {action.chord} is denied (it can end or lock the session)")
    return ALLOW


def normalise_command(text: str) -> str:
    """Fold typed text so spacing, quoting, case and sudo do not hide a command."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[\"'`\\]", "", text)              # r\m, "rm", 'rm'
    text = text.replace("${home}", "$home")
    text = re.sub(r"\b(?:sudo|doas|su\s+-c|env|command|nohup|time|exec|busybox)\s+(?:-\S+\s+)*", "", text)
    text = re.sub(r"[\r\n]+", ";", text)                # each typed line is a command
    text = re.sub(r"(^|[\s;&|])/(?:usr/)?s?bin/", r"\1", text)  # /bin/rm -> rm
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"/{2,}", "/", text)                   # rm -rf //  is  rm -rf /
    return text.strip()


_RM_TARGETS = re.compile(r"(?:/|~|\$home|\.\.?|/(?:home|etc|usr|var|boot|bin|lib|root|opt))?/?\*?")


def destructive_rm(folded: str) -> bool:
    """`rm` with a recursive flag, in any spelling or order, aimed at /, ~, *, . or a system folder."""
    for segment in re.split(r"&&|\|\||[;&|\n(){}]", folded):
        words = segment.split()
        if not words or words[0] != "rm":
            continue
        flags = [w for w in words[1:] if w.startswith("-") and w != "--"]
        targets = [w for w in words[1:] if not w.startswith("-")]
        recursive = any(f in ("--recursive", "-r") or (not f.startswith("--") and "r" in f) for f in flags)
        if recursive and any(t and _RM_TARGETS.fullmatch(t) for t in targets):
            return True
    return False


def text_denied(action: Action, ctx: GuardContext, policy: Policy) -> Verdict:
    if not isinstance(action, Type):
        return ALLOW
    folded = normalise_command(action.text)
    if destructive_rm(folded):
        return deny("text_denied", f"typed text looks like a destructive command: {action.text.strip()[:60]!r}")
    for pattern in (*policy.text_deny_patterns, *policy.extra_text_deny_patterns):
        if re.search(pattern, folded):
            return deny("text_denied", f"typed text looks like a destructive command: {action.text.strip()[:60]!r}")
    return ALLOW


def sensitive_window(action: Action, ctx: GuardContext, policy: Policy) -> Verdict:
    if action.kind in ("wait", "done", "fail", "move"):
        return ALLOW
    haystack = f"{ctx.window.title} {ctx.window.app}".lower()
    for pattern in policy.sensitive_windows:
        if pattern.lower() in haystack:
            return confirm("sensitive_window",
                           f"the active window {ctx.window.title or ctx.window.app!r} looks sensitive ({pattern})")
    return ALLOW


def rate_limit(action: Action, ctx: GuardContext, policy: Policy) -> Verdict:
    recent = [t for t in ctx.recent if ctx.now - t < policy.rate_window_s]
    if len(recent) >= policy.max_actions:
        return deny("rate_limit", f"more than {policy.max_actions} actions in {policy.rate_window_s:g}s")
    return ALLOW


def prompt_injection(action: Action, ctx: GuardContext, policy: Policy) -> Verdict:
    if ctx.injection and action.kind not in ("wait", "done", "fail"):
        return confirm("prompt_injection", f"on-screen text tries to instruct the agent: {ctx.injection[:80]!r}")
    return ALLOW


DEFAULT_GUARDS: tuple[Guard, ...] = (on_screen, chord_denied, text_denied, rate_limit,
                                     sensitive_window, prompt_injection)


def check(action: Action, ctx: GuardContext, policy: Policy,
          guards: Sequence[Guard] = DEFAULT_GUARDS) -> Verdict:
    """Run every guard; the strictest verdict wins (the first of equal rank)."""
    worst = ALLOW
    for guard in guards:
        verdict = guard(action, ctx, policy)
        if _RANK[verdict.decision] > _RANK[worst.decision]:
            worst = verdict
            if worst.decision == "deny":
                break
    if worst.decision == "allow" and policy.confirm == "always" and action.kind not in ("wait", "done", "fail"):
        return confirm("confirm_always", "every action needs confirmation (--confirm always)")
    return worst
