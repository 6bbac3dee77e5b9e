"""Prompt templates as files, rendered with jinja2 at call time (so the date is today's).

Templates live in the wheel as `agent/prompts/` (hatch force-include of the repo's `prompts/`);
editable installs read the repo's `prompts/` directly.
"""

from __future__ import annotations

import datetime as dt
import platform
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2

from actions.errors import UsageError


def prompt_dir() -> Traversable:
    packaged = resources.files("agent") / "prompts"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "prompts"


def _load(name: str) -> str:
    path = prompt_dir() / name
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, FileNotFoundError):
        raise UsageError(f"prompt template {name!r} not found in {prompt_dir()}") from None


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FunctionLoader(_load), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True,
                              autoescape=False)


def render(name: str, **context: Any) -> str:
    """Render `prompts/<name>` with `date`, `os` and the given context."""
    base = {"date": dt.date.today().strftime("%A, %d %B %Y"), "os": f"{platform.system()} (X11)"}
    return _environment().get_template(name).render(**base, **context).strip()
