"""Find an element by its text: fuzzy, ranked, and honest about ambiguity.

    match = find(elements, "Submit")
    if match.best and not match.ambiguous: click(match.best.box.center)
    else: log.info(match.reason)

Ranking: text similarity first (exact > same after look-alike folding > containment > edit
ratio), then accessibility before OCR, then size (taller first: a button's label rather than
the same word in small print), then reading order. `near` / `within` narrow the search by place.
A match is ambiguous when another candidate in a different place scores within `tie` of the best.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from actions.models import Box, Point
from agent.perception.elements import Element
from agent.perception.regions import overlap_small

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


def _rank_key(c: Candidate, near: Point | None) -> tuple[float, ...]:
    e = c.element
    place = _distance(e.box, near) if near else 0.0
    return (-round(c.score, 3), place, 0 if e.source != "ocr" else 1, -e.box.height, e.box.top, e.box.left)


def _apart(a: Box, b: Box) -> bool:
    return overlap_small(a, b) < 0.5


def find(elements: Sequence[Element], text: str, *, min_score: float = 0.6, tie: float = 0.04,
         near: Point | None = None, within: Box | None = None, limit: int = 5) -> Match:
    """Elements whose text matches `text`, best first (see the module docstring)."""
    pool = [e for e in elements if within is None or within.contains(e.box.center.x, e.box.center.y)]
    scored = [Candidate(e, s) for e in pool if (s := similarity(text, e.text)) >= min_score]
    scored.sort(key=lambda c: _rank_key(c, near))
    candidates = tuple(scored[:limit])
    if not candidates:
        where = " in the given area" if within else ""
        return Match(text, None, (), False, f"no element reads like {text!r}{where} "
                                             f"(searched {len(pool)} elements)")
    best = candidates[0]
    rivals = [c for c in candidates[1:] if best.score - c.score < tie and _apart(c.element.box, best.element.box)]
    if rivals and near is None:
        listed = ", ".join(f"[{c.element.id}] {c.element.text!r} at {_where(c.element.box)}"
                           for c in (best, *rivals))
        return Match(text, best.element, candidates, True,
                     f"{len(rivals) + 1} elements match {text!r} about equally: {listed}; picked "
                     f"[{best.element.id}] (larger / higher); pass near= or within= to choose")
    return Match(text, best.element, candidates, False,
                 f"[{best.element.id}] {best.element.text!r} matches {text!r} (score {best.score:.2f})")


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
