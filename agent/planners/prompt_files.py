"""Prompt templates are files in the repo's `prompts/`; the wheel ships them as `agent/prompts`."""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from actions.errors import UsageError


def prompt_dir() -> Traversable:
    """`agent/prompts` inside an installed wheel, else the source checkout's `prompts/`."""
    packaged = resources.files("agent") / "prompts"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "prompts"


def read_prompt(name: str) -> str:
    path = prompt_dir() / name
    if not path.is_file():
        raise UsageError(f"prompt template {name!r} not found in {prompt_dir()}")
    return path.read_text(encoding="utf-8")


def prompt_names() -> list[str]:
    return sorted(p.name for p in prompt_dir().iterdir() if p.is_file())
