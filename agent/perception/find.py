"""Find an element by its text: fuzzy, ranked, and honest about ambiguity.

    match = find(elements, "Submit")
    if match.best and not match.ambiguous: click(match.best.box.center)
    else: log.info(match.reason)

Ranking: text similarity first (exact > same after look-alike folding > containment > edit
ratio), then what can be acted on before what cannot (`widgets.interactive`: accessibility
buttons, links, menu items, ...; OCR labels in a button-like frame) before static text and
display readouts, then the same case before another ("e" is not "E"), then accessibility before OCR, then size (taller first: a button's label rather
than the same word in small print), then reading order. `near` / `within` narrow the search by
place. A match is ambiguous when another candidate of the same kind (widget or not, same case
or not) in a different place scores within `tie` of the best; its reason lists them with their positions.

A `Selector` chooses among them, as the offline planner's "the button 7", "7 in the keypad",
"7 below Total" and "the 2nd 7" do: `find(elements, "7", interactive=True)`, `relation="below",
anchor="Total"`, `nth=2`. This one function is the grounding of every caller that clicks by text:
the offline planner, `ui.click` in the pytest plugin, and the MCP server's click.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from actions.models import Box, Point
from agent.perception.elements import Element
from agent.perception.regions import overlap_small
from agent.perception.widgets import interactive as _interactive
from agent.perception.widgets import kind

Relation = Literal["near", "below", "above", "left of", "right of", "in"]

# Glyphs OCR confuses on UI fonts; folded before comparing (both sides).
_FOLD = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "!": "l", "×": "x", "*": "x", "[": "(", "]": ")",
                       "{": "(", "}": ")",
                       "—": "-", "–": "-", "’": "'", "‘": "'", "“": '"', "”": '"'})
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Candidate:
    element: Element
    score: float


@dataclass(frozen=True)
class Match:
    """The outcome of `find`: the best element (or None), the ranked candidates, and why."""

    query: str
    best: Element | None
    candidates: tuple[Candidate, ...]
    ambiguous: bool
    reason: str

    @property
    def found(self) -> bool:
        return self.best is not None


def _norm(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def similarity(query: str, text: str) -> float:
    """0..1: 1 exact (case/space-insensitive), 0.95 equal after folding look-alikes, 0.8-0.9 when
    the query is a whole word of the text, else difflib's ratio on folded strings."""
    q, t = _norm(query), _norm(text)
    if not q or not t:
        return 0.0
    if q == t:
        return 1.0
    fq, ft = q.translate(_FOLD), t.translate(_FOLD)
    if fq == ft:
        return 0.95
    if re.search(rf"(?<!\w){re.escape(q)}(?!\w)", t):
        return 0.8 + 0.1 * len(q) / len(t)
    return difflib.SequenceMatcher(None, fq, ft).ratio()


def _distance(box: Box, point: Point) -> float:
    c = box.center
    return math.hypot(c.x - point.x, c.y - point.y)


def _rank_key(c: Candidate, near: Point | None, text: str) -> tuple[float, ...]:
    e = c.element
    place = _distance(e.box, near) if near else 0.0
    return (-round(c.score, 3), place, 0 if _interactive(e) else 1, 0 if _same_case(e, text) else 1,
            0 if e.source != "ocr" else 1, -e.box.height, e.box.top, e.box.left)


def _same_case(e: Element, text: str) -> bool:
    """Reads `text` letter for letter, case too: xcalc's "e" key is not its "E" key."""
    return " ".join(e.text.split()) == " ".join(text.split())


def _apart(a: Box, b: Box) -> bool:
    return overlap_small(a, b) < 0.5


class Selector(BaseModel):
    """How to choose among the elements that read like a text: only widgets (`interactive`), the
    `nth` in reading order (1-based, -1 the last), or by place next to an `anchor` text."""

    model_config = ConfigDict(frozen=True)
    interactive: bool = False
    nth: int | None = None
    relation: Relation | None = None
    anchor: str | None = None

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `find` this selector sets (none when it chooses nothing)."""
        return self.model_dump(exclude_defaults=True)

    def describe(self, text: str) -> str:
        """The target as asked, e.g. `the 2nd button '7' below 'Total'`."""
        what = ("the " + ordinal(self.nth) + " " if self.nth else "") + ("button " if self.interactive else "")
        where = f" {self.relation} {self.anchor!r}" if self.relation and self.anchor else ""
        return f"{what}{text!r}{where}"


# Words after "in the" that mean the app's buttons rather than an element named so.
GROUP_WORDS = frozenset({"keypad", "keyboard", "keys", "buttons", "button panel"})


# Over 40 lines: the narrowing by selector, then ranking, then the one honest answer.
def find(elements: Sequence[Element], text: str, *, min_score: float = 0.6, tie: float = 0.04,
         near: Point | None = None, within: Box | None = None, limit: int = 5, interactive: bool = False,
         nth: int | None = None, relation: Relation | None = None, anchor: str | None = None) -> Match:
    """Elements whose text matches `text`, best first (see the module docstring). The selector
    arguments (`Selector`) narrow the choice; one that matches nothing says what was asked."""
    asked = Selector(interactive=interactive, nth=nth, relation=relation, anchor=anchor).describe(text)
    if relation == "in" and anchor is not None and _norm(anchor) in GROUP_WORDS:
        interactive, relation, anchor = True, None, None
    pool = [e for e in elements if within is None or within.contains(e.box.center.x, e.box.center.y)]
    if relation is not None and anchor is not None:
        placed = _anchor(elements, anchor, asked)
        if isinstance(placed, Match):
            return Match(text, None, (), False, placed.reason)
        pool = [e for e in pool if _placed(e.box, placed, relation)]
        near = None if relation == "in" else _side(placed, relation)
    scored = [Candidate(e, s) for e in pool if (s := similarity(text, e.text)) >= min_score]
    if interactive:
        others = [c for c in scored if not _interactive(c.element)]
        scored = [c for c in scored if _interactive(c.element)]
        if not scored:
            seen = f"; only {_listed(others[:4])}, which cannot be clicked as a widget" if others else ""
            return Match(text, None, (), False, f"no {asked} on screen{seen}")
    scored.sort(key=lambda c: _rank_key(c, near, text))
    candidates = tuple(scored[:limit])
    if not candidates:
        where = " in the given area" if within else ""
        return Match(text, None, (), False, f"no element reads like {asked}{where} "
                                             f"(searched {len(pool)} elements)")
    if nth is not None:
        return _nth(text, scored, nth, tie, asked)
    best = candidates[0]
    rivals = [c for c in candidates[1:] if best.score - c.score < tie and _apart(c.element.box, best.element.box)
              and _interactive(c.element) == _interactive(best.element)
              and _same_case(c.element, text) == _same_case(best.element, text)]
    if rivals and near is None:
        return Match(text, best.element, candidates, True,
                     f"{text!r} is ambiguous: {_listed((best, *rivals))}; say which, e.g. 'the button "
                     f"{text}', '{text} below LABEL' or 'the 2nd {text}'")
    return Match(text, best.element, candidates, False,
                 f"[{best.element.id}] {kind(best.element)} {best.element.text!r} matches {asked} "
                 f"(score {best.score:.2f})")


def _listed(candidates: Sequence[Candidate]) -> str:
    return ", ".join(f"{kind(c.element)} {c.element.text!r} at {_where(c.element.box)}" for c in candidates)


def _nth(text: str, scored: Sequence[Candidate], nth: int, tie: float, asked: str) -> Match:
    """The `nth` (1-based; -1 the last) of the best-reading candidates in reading order (rows top
    to bottom, then left to right); the same place read twice counts once."""
    top = scored[0].score
    alike: list[Candidate] = []
    for c in scored:
        if top - c.score < tie and all(_apart(c.element.box, k.element.box) for k in alike):
            alike.append(c)
    alike.sort(key=lambda c: (c.element.box.center.y // max(8, c.element.box.height), c.element.box.left))
    index = nth - 1 if nth > 0 else len(alike) + nth
    if not 0 <= index < len(alike):
        return Match(text, None, tuple(alike), False,
                     f"no {asked.removeprefix('the ')}: {len(alike)} on screen ({_listed(alike[:6])})")
    chosen = alike[index]
    return Match(text, chosen.element, tuple(alike), False,
                 f"[{chosen.element.id}] {kind(chosen.element)} {chosen.element.text!r} is {asked} "
                 f"of {len(alike)}")


def _anchor(elements: Sequence[Element], anchor: str, asked: str) -> Box | Match:
    """The box of the element the selector's place is relative to, or a Match saying why not."""
    found = find(elements, anchor, min_score=0.9 if len(anchor.strip()) <= 2 else 0.75)
    if found.best is None:
        return Match(anchor, None, (), False, f"no {anchor!r} on screen to find {asked}")
    if found.ambiguous:
        return Match(anchor, None, (), False, f"{anchor!r} (to find {asked}) is ambiguous: "
                                              f"{_listed(found.candidates[:4])}")
    return found.best.box


def _placed(box: Box, anchor: Box, relation: Relation) -> bool:
    """Whether `box` lies `relation` of `anchor` (by centres; "near": anywhere but on it)."""
    c = box.center
    match relation:
        case "below":
            return c.y >= anchor.bottom
        case "above":
            return c.y < anchor.top
        case "left of":
            return c.x < anchor.left
        case "right of":
            return c.x >= anchor.right
        case "in":
            return anchor.contains(c.x, c.y)
    return overlap_small(box, anchor) < 0.5


def _side(anchor: Box, relation: Relation) -> Point:
    """Where a candidate `relation` of `anchor` is closest: the middle of that side."""
    c = anchor.center
    match relation:
        case "below":
            return Point(x=c.x, y=anchor.bottom)
        case "above":
            return Point(x=c.x, y=anchor.top)
        case "left of":
            return Point(x=anchor.left, y=c.y)
        case "right of":
            return Point(x=anchor.right, y=c.y)
    return c


def ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", -1 -> "last"."""
    if n == -1:
        return "last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _where(box: Box) -> str:
    c = box.center
    return f"({c.x},{c.y})"


VISIBLE_MIN_SCORE = 0.9  # text that must be on screen reads nearly letter for letter


def text_visible(elements: Sequence[Element], text: str, finder: Callable[..., Match] | None = None) -> bool:
    """On screen: an element reads like `text` (nearly letter for letter), or contains it as whole
    words ("Saved" in "File Saved successfully"). `finder` stands in for `find` in tests."""
    if (finder or find)(elements, text, min_score=VISIBLE_MIN_SCORE).best is not None:
        return True
    words = re.compile(r"(?<![\w])" + re.escape(" ".join(text.lower().split())) + r"(?![\w])")
    return any(words.search(" ".join(e.text.lower().split())) for e in elements)
