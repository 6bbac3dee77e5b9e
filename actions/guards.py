"""Safety guards: pure checks that run before every action.

A guard takes (action, context, policy) and returns a `Verdict`: allow, deny with a reason, or
confirm with a reason. They never raise and never touch the desktop; the executor runs them
all and acts on the strictest verdict (deny > confirm > allow).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from actions.desktop.base import ScreenGeometry, WindowInfo
from actions.keys import parse_chord
from actions.models import ALLOW, Action, Key, Type, Verdict, action_points
from actions.policy import Policy
from actions.shell import judge_line

_RANK = {"allow": 0, "confirm": 1, "deny": 2}

class GuardContext(BaseModel):
    """What the guards may look at besides the action. Built by the executor per action."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    screen: ScreenGeometry
    window: WindowInfo = WindowInfo()
    now: float = 0.0
    recent: tuple[float, ...] = ()  # monotonic times of recently performed actions
    injection: str | None = None    # on-screen text that tried to steer the agent, if seen
    terminal: bool = False          # the window is a terminal: its lines go to a shell
    lines: tuple[str, ...] = ()     # input lines this action would commit (actions.delivery)
    tainted: tuple[str, ...] = ()   # per line: why it is not known exactly ('' when it is)
    secrets: tuple[str, ...] = ()   # names of the secrets this action types
    focused_role: str | None = None  # accessible role of the focused element, when known


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
    """A chord is denied when it holds a denied one: extra modifiers do not stop the X server
    or the window manager from acting on ctrl+alt+backspace."""
    if not isinstance(action, Key):
        return ALLOW
    pressed = set(action.keys)
    for chord in policy.denied_chords:
        if set(parse_chord(chord)) <= pressed:
            return deny("chord_denied", f"key chord {action.chord} is denied (it contains {chord}, "
                                        "which can end or lock the session)")
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


def looks_destructive(text: str, policy: Policy) -> bool:
    """The regex rules: a destructive `rm` or a deny pattern in the folded text (any window)."""
    folded = normalise_command(text)
    patterns = (*policy.text_deny_patterns, *policy.extra_text_deny_patterns)
    return destructive_rm(folded) or any(re.search(p, folded) for p in patterns)


def text_denied(action: Action, ctx: GuardContext, policy: Policy) -> Verdict:
    if isinstance(action, Type) and looks_destructive(action.text, policy):
        return deny("text_denied", f"typed text looks like a destructive command: {_quote(action.text)}")
    return ALLOW


def line_denied(action: Action, ctx: GuardContext, policy: Policy) -> Verdict:
    """Judge every input line the action commits (Return) as the window will receive it.

    In a terminal the line goes to a shell: `actions.shell` judges it, and a line we cannot know
    (history, paste) needs confirmation. Elsewhere only denials count (a text editor's line that
    reads `python3 -c ...` is text, but `rm -rf ~` plus Return is never something to send)."""
    for line, tainted in zip(ctx.lines, ctx.tainted, strict=True):
        if ctx.terminal and tainted:
            return confirm("line_denied", f"the terminal line cannot be checked: {tainted}")
        verdict = judge_line(line)
        if verdict.decision == "deny" or (ctx.terminal and verdict.decision == "confirm"):
            return verdict
        if looks_destructive(line, policy):
            return deny("line_denied", f"the line looks like a destructive command: {_quote(line)}")
    return ALLOW


def _quote(text: str, limit: int = 60) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


def secret_field(action: Action, ctx: GuardContext, policy: Policy) -> Verdict:
    """A secret is typed only into a password field (which shows dots), unless the user said it may show."""
    shown = [name for name in ctx.secrets if name not in policy.secret_visible]
    if shown and ctx.focused_role != "password":
        where = f"the focused element is a {ctx.focused_role}" if ctx.focused_role else "no password field has focus"
        return deny("secret_field", f"{{{{{shown[0]}}}}} is typed only into a password field ({where}); "
                                    f"allow it with --secret-visible {shown[0]}")
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


_CONSEQUENTIAL = ("type", "key", "click", "drag")


def prompt_injection(action: Action, ctx: GuardContext, policy: Policy) -> Verdict:
    """While text that addresses the agent is on screen, typing, keys and clicks need a human."""
    if ctx.injection and action.kind in _CONSEQUENTIAL:
        return confirm("prompt_injection", f"on-screen text tries to instruct the agent: {_quote(ctx.injection, 80)}")
    return ALLOW


DEFAULT_GUARDS: tuple[Guard, ...] = (on_screen, chord_denied, text_denied, line_denied, secret_field,
                                     rate_limit, sensitive_window, prompt_injection)


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
