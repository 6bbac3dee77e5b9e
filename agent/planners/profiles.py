"""Model profiles: provider, grounding, coordinate convention, image budget and prices per model.

The data lives in `profiles.toml` (package data). A user's own file, named by the setting
`profiles` or the env var `UIAGENT_PROFILES`, is tried first. Unknown models get the defaults
and one logged notice.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.errors import UsageError
from actions.models import validation_message
from agent.perception.scaling import Convention

log = logging.getLogger(__name__)

Grounding = Literal["tool", "marks", "coordinates"]
ResizeRule = Literal["xga", "budget", "smart"]
TokenFormula = Literal["anthropic", "openai-tile", "patch28", "none"]
ENV_PROFILES = "UIAGENT_PROFILES"


class ModelProfile(BaseModel):
    """How to talk to one model. Prices are USD per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    pattern: str = "*"
    provider: str | None = None
    grounding: Grounding = "marks"
    convention: Convention = "pixels"
    resize: ResizeRule = "budget"
    max_pixels: int = Field(default=1366 * 768, gt=0)
    max_edge: int | None = 1568
    min_pixels: int = 3136
    max_images: int = Field(default=3, ge=1)
    image_format: Literal["jpeg", "png"] = "jpeg"
    image_quality: int = Field(default=95, ge=1, le=100)
    image_tokens: TokenFormula = "openai-tile"
    tile_base: int = 85
    tile_per: int = 170
    tool_calling: bool = True
    actions_per_turn: int = Field(default=3, ge=1, le=20)
    max_tokens: int = Field(default=1024, ge=16)
    price_input: float = Field(default=0.0, ge=0)
    price_output: float = Field(default=0.0, ge=0)
    price_cached_input: float = Field(default=0.0, ge=0)
    tool_version: str | None = None
    cua_tool: Literal["computer_use_preview", "computer"] = "computer"
    known: bool = Field(default=True, description="False when only the defaults applied")

    @property
    def needs_elements(self) -> bool:
        """Marks grounding: the loop perceives elements (OCR, accessibility) for this model."""
        return self.grounding == "marks"


class ProfileTable(BaseModel):
    model_config = ConfigDict(frozen=True)
    defaults: dict[str, Any] = {}
    profiles: tuple[dict[str, Any], ...] = ()

    def lookup(self, provider: str | None, model: str) -> ModelProfile:
        """The first entry matching `model` (and `provider`, when both are set)."""
        name = model.lower()
        for entry in self.profiles:
            wanted = entry.get("provider")
            if provider and wanted and wanted != provider:
                continue
            if fnmatch.fnmatchcase(name, str(entry.get("pattern", "*")).lower()):
                return _build({**self.defaults, **entry})
        log.warning("no profile for model %r (%s): using defaults; add one with %s", model,
                 provider or "no provider", ENV_PROFILES)
        return _build({**self.defaults, "provider": provider, "known": False})


def _build(data: dict[str, Any]) -> ModelProfile:
    try:
        return ModelProfile(**data)
    except ValidationError as e:
        raise UsageError(f"bad model profile {data.get('pattern', '?')!r}: {validation_message(e)}") from None


def _parse(text: str, origin: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"cannot read model profiles {origin}: {e}") from None
    entries = data.get("profile", [])
    if not isinstance(entries, list):
        raise UsageError(f"model profiles {origin}: use [[profile]] tables")
    return dict(data.get("defaults", {})), [dict(e) for e in entries]


def load_profiles(user_file: Path | None = None) -> ProfileTable:
    """The packaged table, with `user_file` (or $UIAGENT_PROFILES) entries tried first."""
    packaged = resources.files("agent.planners").joinpath("profiles.toml").read_text(encoding="utf-8")
    defaults, entries = _parse(packaged, "(packaged)")
    path = user_file or (Path(os.environ[ENV_PROFILES]) if os.environ.get(ENV_PROFILES) else None)
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot read model profiles {path}: {e.strerror} (check {ENV_PROFILES})") from None
        user_defaults, user_entries = _parse(text, str(path))
        defaults = {**defaults, **user_defaults}
        entries = user_entries + entries
    return ProfileTable(defaults=defaults, profiles=tuple(entries))
