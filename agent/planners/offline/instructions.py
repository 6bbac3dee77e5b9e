"""The offline planner's language: explicit step-by-step instructions, parsed without a model.

    click File, then double-click 'report.txt'
    1. right-click the icon  2. type "hello world"  3. press ctrl+s
    scroll down 3; wait 2 seconds; click the 7 button; verify '42'
    click the button 7; click 7 in the keypad; click 7 below Total; click the 2nd '7'

Steps are separated by newlines, commas, semicolons, "then" / "and then", or numbers ("1." "2)").
Quoted text is never split. Each step parses into one `Instruction`; an unparseable step is a
`UsageError` naming it. A step after which nothing should change on screen ends with `(no change)`
(or `(no reaction)`); `verify` waits up to 2 s for its text (`verify 42 within 5 s`).

A pointer step's target may say which of several alike it means (`find.Selector`): "the button
7" / "the key 7" (widgets only), "the 2nd 7" / "the last 7" (reading order), "7 in the keypad"
(widgets only), "7 near / below / above / left of / right of LABEL", "Save in the Dialog" (inside
the element named so). Without one, grounding prefers widgets over text and readouts.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from actions.errors import UsageError
from actions.keys import parse_chord
from actions.models import MAX_WAIT_S, Button
from agent.perception.find import Relation, Selector

Verb = Literal["click", "move", "drag", "scroll", "type", "key", "wait", "wait_for", "verify", "verify_not", "done"]


class Instruction(BaseModel):
    model_config = ConfigDict(frozen=True)
    verb: Verb
    source: str                       # the step as written
    target: str | None = None         # text to find on screen
    point: tuple[int, int] | None = None
    button: Literal["left", "right", "middle"] = "left"
    count: int = 1
    text: str | None = None           # for type
    chord: str | None = None          # for key
    select: Selector = Selector()     # which of the elements reading like `target`
    to: str | None = None             # drag destination text
    to_select: Selector = Selector()
    dx: int = 0
    dy: int = 0
    seconds: float = 0.0
    expect_change: bool = True        # False: "(no change)", its action may leave the screen as it was


_QUOTED = r"""(?:'([^']*)'|"([^"]*)"|“([^”]*)”|‘([^’]*)’)"""
_SPLIT = re.compile(r"""('[^']*'|"[^"]*"|“[^”]*”|‘[^’]*’|\([^)]*\))|(\n|;|,\s*(?:and\s+)?then\b|,|\band\s+then\b|\bthen\b|(?:^|\s)(?:step\s+)?\d+[.)](?=\s|$))""",
                    re.IGNORECASE)
_NOISE = re.compile(r"^(?:please\s+|now\s+|and\s+|next,?\s+|finally,?\s+|first,?\s+)+", re.IGNORECASE)
_NO_CHANGE = re.compile(r"\s*\((?:expect(?:ing)?\s+)?no\s+(?:change|reaction)(?:\s+expected)?\)\s*$", re.IGNORECASE)
_WITHIN = re.compile(r"\s+(?:within|up\s+to|for\s+at\s+most)\s+(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)$", re.IGNORECASE)
VERIFY_S = 2.0  # how long `verify` waits for its text by default
_TRAILING = re.compile(r"\s+(?:button|icon|field|menu|tab|link|item|entry|key|box|label|option|text)$", re.IGNORECASE)


def split_steps(task: str) -> list[str]:
    """Split a task into steps at separators outside quotes."""
    steps, pos = [], 0
    for match in _SPLIT.finditer(task):
        if match.group(1):  # a quoted or parenthesised run: keep it whole
            continue
        steps.append(task[pos:match.start()])
        pos = match.end()
    steps.append(task[pos:])
    return [s.strip(" .\t") for s in steps if s.strip(" .\t")]


def _unquote(text: str) -> str:
    text = text.strip()
    m = re.fullmatch(_QUOTED, text)
    if m:
        return next(g for g in m.groups() if g is not None)
    return text


def _target(text: str) -> str:
    text = text.strip()
    m = re.fullmatch(_QUOTED, text)
    if m:
        return next(g for g in m.groups() if g is not None)
    text = re.sub(r"^(?:on\s+|at\s+)?(?:the\s+)", "", text, flags=re.IGNORECASE)
    text = _TRAILING.sub("", text).strip()
    if re.fullmatch(_QUOTED, text):
        return _unquote(text)
    return text


_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "last": -1}
_ORDINAL_RE = re.compile(r"^(?:(?:the\s+)(first|second|third|fourth|fifth|sixth|last)|(?:the\s+)?(\d+)(?:st|nd|rd|th))\s+(.+)$",
                         re.IGNORECASE)
_KIND_RE = re.compile(r"^(?:button|key|widget)\s+(.+)$", re.IGNORECASE)
_RELATIONS: dict[str, Relation] = {
    "in the": "in", "on the": "in", "inside the": "in", "inside": "in", "within the": "in",
    "near": "near", "near to": "near", "next to": "near", "beside": "near", "close to": "near",
    "below": "below", "under": "below", "beneath": "below", "underneath": "below", "above": "above",
    "left of": "left of", "to the left of": "left of", "right of": "right of", "to the right of": "right of"}
_RELATION_RE = re.compile(r"^(" + _QUOTED + r"|.+?)\s+(" + "|".join(
    sorted((w.replace(" ", r"\s+") for w in _RELATIONS), key=len, reverse=True)) + r")\s+(.+)$", re.IGNORECASE)


def selected(text: str) -> tuple[str, Selector]:
    """A pointer target and how to choose it: "the 2nd button '7' below Total" -> ('7', Selector(
    nth=2, interactive=True, relation='below', anchor='Total')); a quoted target is taken whole."""
    text = re.sub(r"^(?:on|at)\s+", "", text.strip(), flags=re.IGNORECASE)
    if re.fullmatch(_QUOTED, text):
        return _target(text), Selector()
    relation: Relation | None = None
    anchor = None
    if m := _RELATION_RE.match(text):
        text, relation = m.group(1), _RELATIONS[" ".join(m.group(6).lower().split())]
        anchor = _target(m.group(7))
    nth = None
    if m := _ORDINAL_RE.match(text):
        word, digits, text = m.group(1), m.group(2), m.group(3)
        nth = _ORDINALS[word.lower()] if word else int(digits)
        if nth == 0:
            raise UsageError(f"cannot parse {m.group(0)!r}: count from the 1st")
    the = re.match(r"^the\s+", text, re.IGNORECASE)
    text = text[the.end():] if the else text
    interactive = False
    # "the button 7", "the 2nd key 7", "button '7'"; not "Key Settings", a label that starts so
    if (k := _KIND_RE.match(text)) and (the or nth is not None or re.fullmatch(_QUOTED, k.group(1).strip())):
        text, interactive = k.group(1), True
    return _target(text), Selector(interactive=interactive, nth=nth, relation=relation, anchor=anchor)


_CLICKS: dict[str, tuple[Button, int]] = {"click": ("left", 1), "left-click": ("left", 1), "left click": ("left", 1), "tap": ("left", 1),
           "double-click": ("left", 2), "double click": ("left", 2), "doubleclick": ("left", 2),
           "triple-click": ("left", 3), "triple click": ("left", 3),
           "right-click": ("right", 1), "right click": ("right", 1),
           "middle-click": ("middle", 1), "middle click": ("middle", 1), "select": ("left", 1),
           "choose": ("left", 1), "open": ("left", 2)}
_CLICK_RE = re.compile(r"^(" + "|".join(sorted(map(re.escape, _CLICKS), key=len, reverse=True)) + r")\s+(?:on\s+)?(.+)$",
                       re.IGNORECASE)
_POINT_RE = re.compile(r"^(?:at\s+)?\(?\s*(\d+)\s*[, ]\s*(\d+)\s*\)?$")


def parse_step(step: str) -> Instruction:
    """One step; `(no change)` at its end says its action is not expected to change the screen."""
    text, quiet = _NO_CHANGE.subn("", step.strip())
    instruction = _parse(step, text)
    return instruction.model_copy(update={"expect_change": False}) if quiet else instruction


# Over 50 lines: one regular expression per instruction form, tried in order of precedence.
def _parse(step: str, text: str) -> Instruction:
    s = _NOISE.sub("", text)
    low = s.lower()
    if low in ("done", "finish", "stop", "that's it"):
        return Instruction(verb="done", source=step)
    if m := _CLICK_RE.match(s):
        button, count = _CLICKS[m.group(1).lower()]
        rest = m.group(2).strip()
        if p := _POINT_RE.match(rest):
            return Instruction(verb="click", source=step, point=(int(p.group(1)), int(p.group(2))), button=button, count=count)
        target, select = selected(rest)
        return Instruction(verb="click", source=step, target=target, select=select, button=button, count=count)
    if m := re.match(r"^(?:press|push|hit)\s+(?:the\s+)?(.+?)\s+button$", s, re.IGNORECASE):
        return Instruction(verb="click", source=step, target=_target(m.group(1)))
    if m := re.match(r"^(?:type|enter|write|input)\s+(.+)$", s, re.IGNORECASE | re.DOTALL):
        rest = m.group(1)
        if q := re.match(_QUOTED, rest):  # quoted text is taken as written, whatever follows
            return Instruction(verb="type", source=step, text=next(g for g in q.groups() if g is not None))
        text = re.sub(r"\s+(?:in|into)\s+(?:the\s+)?\S+(?:\s+(?:field|box|entry))?$", "", rest, flags=re.IGNORECASE)
        return Instruction(verb="type", source=step, text=text)
    if m := re.match(r"^(?:press|hit|key|send)\s+(?:the\s+)?(.+?)(?:\s+key)?$", s, re.IGNORECASE):
        chord = _unquote(m.group(1))
        try:
            keys = parse_chord(chord)
        except UsageError as e:
            raise UsageError(f"cannot parse step {step!r}: {e}") from None
        return Instruction(verb="key", source=step, chord="+".join(keys))
    if m := re.match(r"^scroll\s+(up|down|left|right)(?:\s+(\d+))?(?:\s+(?:times|clicks|notches))?(?:\s+(?:on|over|in|at)\s+(.+))?$",
                     s, re.IGNORECASE):
        n = int(m.group(2) or 3)
        d = m.group(1).lower()
        dx, dy = {"up": (0, -n), "down": (0, n), "left": (-n, 0), "right": (n, 0)}[d]
        on, select = selected(m.group(3)) if m.group(3) else (None, Selector())
        return Instruction(verb="scroll", source=step, dx=dx, dy=dy, target=on, select=select)
    if m := re.match(r"^wait\s+for\s+(.+?)(?:\s+(?:to\s+appear|to\s+show))?(?:\s+(?:up\s+to|for\s+at\s+most|within)\s+(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?))?$",
                     s, re.IGNORECASE):
        return Instruction(verb="wait_for", source=step, target=_target(m.group(1)), seconds=float(m.group(2) or 10))
    if m := re.match(r"^(?:wait|sleep|pause)(?:\s+(?:for\s+)?(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|ms|milliseconds?)?)?$", s, re.IGNORECASE):
        value = float(m.group(1) or 1)
        if (m.group(2) or "").lower().startswith("m"):
            value /= 1000
        if not 0 < value <= MAX_WAIT_S:
            raise UsageError(f"cannot parse step {step!r}: a wait is more than 0 and at most {MAX_WAIT_S:g} seconds "
                             "(to wait on the app, say: wait for TEXT up to N s)")
        return Instruction(verb="wait", source=step, seconds=value)
    if m := re.match(r"^(?:move(?:\s+the\s+mouse)?\s+to|hover(?:\s+over)?|point\s+at)\s+(.+)$", s, re.IGNORECASE):
        target, select = selected(m.group(1))
        return Instruction(verb="move", source=step, target=target, select=select)
    if m := re.match(r"^drag\s+(.+?)\s+(?:to|onto|into)\s+(.+)$", s, re.IGNORECASE):
        (target, select), (to, to_select) = selected(m.group(1)), selected(m.group(2))
        return Instruction(verb="drag", source=step, target=target, select=select, to=to, to_select=to_select)
    seconds = VERIFY_S
    if (w := _WITHIN.search(s)) and re.match(r"^(?:verify|check|assert|expect|make\s+sure)\s", s, re.IGNORECASE):
        s, seconds = s[:w.start()], float(w.group(1))
    if m := re.match(r"^(?:verify|check|assert|expect|make\s+sure)\s+(?:that\s+)?(.+?)(\s+is\s+not\s+(?:visible|shown|on\s+screen)|\s+is\s+(?:visible|shown|on\s+screen)|\s+appears)?$",
                     s, re.IGNORECASE):
        negated = bool(m.group(2) and " not " in m.group(2))
        target = re.sub(r"^(?:the\s+)?(?:screen|display|result)\s+(?:shows|reads|says|displays|contains)\s+", "",
                        m.group(1), flags=re.IGNORECASE)
        return Instruction(verb="verify_not" if negated else "verify", source=step, target=_target(target),
                           seconds=seconds)
    raise UsageError(f"cannot parse step {step!r}: start it with click, double-click, right-click, type, press, "
                     "scroll, wait, move to, drag, verify or done")


def parse_task(task: str) -> list[Instruction]:
    """Every step of a task, or a UsageError naming the first step that does not parse."""
    if not task.strip():
        raise UsageError("empty task: say what to do, e.g. \"click File, then click Save\"")
    return [parse_step(step) for step in split_steps(task)]
