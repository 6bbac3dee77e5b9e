"""Prompt templates rendered with jinja2 at call time (so the date is today's).

Files come from `agent.planners.prompt_files` (the wheel's `agent/prompts/`, or the checkout's `prompts/`).
"""

from __future__ import annotations

import datetime as dt
import platform
from functools import lru_cache
from typing import Any

import jinja2

from agent.planners.prompt_files import prompt_dir, read_prompt

__all__ = ["prompt_dir", "render"]


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FunctionLoader(read_prompt), undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render(name: str, **context: Any) -> str:
    """Render `prompts/<name>` with `date`, `os` and the given context."""
    base = {"date": dt.date.today().strftime("%A, %d %B %Y"), "os": f"{platform.system()} (X11)"}
    return _environment().get_template(name).render(**base, **context).strip()
