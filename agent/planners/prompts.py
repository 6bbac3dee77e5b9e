"""Prompt templates rendered with jinja2 at call time (so the date is today's), and the delimiters
that mark screen text as untrusted data.

Files come from `agent.planners.prompt_files` (the wheel's `agent/prompts/`, or the checkout's `prompts/`).
Every piece of text read from the screen (the mark legend, a clicked element's label in the step
summary) reaches a model through `untrusted()`: inside `<screen_text untrusted="true">` tags that
`_data_not_instructions.j2` tells the model are data, with any tag look-alike inside defused.
"""

from __future__ import annotations

import datetime as dt
import platform
import re
from functools import lru_cache
from typing import Any

import jinja2

from agent.perception.injection_rules import INVISIBLE
from agent.planners.prompt_files import prompt_dir, read_prompt

__all__ = ["SCREEN_CLOSE", "SCREEN_OPEN", "prompt_dir", "render", "untrusted"]

SCREEN_OPEN = '<screen_text untrusted="true">'
SCREEN_CLOSE = "</screen_text>"
# "</screen_text>" or "<screen_text" inside screen text, also with look-alike brackets or spacing:
# it could end the data block early and make what follows look like instructions.
_TAG = re.compile(r"[<\uff1c\ufe64\u2039\u3008\u27e8\u276e\u02c2]\s*/?\s*screen[\s_-]*text", re.IGNORECASE)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FunctionLoader(read_prompt), undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render(name: str, **context: Any) -> str:
    """Render `prompts/<name>` with `date`, `os` and the given context."""
    base = {"date": dt.date.today().strftime("%A, %d %B %Y"), "os": f"{platform.system()} (X11)"}
    return _environment().get_template(name).render(**base, **context).strip()


def untrusted(text: str, inline: bool = False) -> str:
    """Screen text as data: zero-width characters dropped, any screen_text tag inside defused (its
    bracket becomes "["), wrapped in the screen_text tags (on their own lines unless `inline`)."""
    clean = _TAG.sub(lambda m: "[" + m.group()[1:], text.translate(INVISIBLE))
    return f"{SCREEN_OPEN}{clean}{SCREEN_CLOSE}" if inline else f"{SCREEN_OPEN}\n{clean}\n{SCREEN_CLOSE}"
