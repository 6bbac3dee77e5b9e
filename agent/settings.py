"""One Settings model: defaults < `[tool.uiagent]` in pyproject.toml < UIAGENT_* env < CLI flags."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.desktop.pacing import InputPacing
from actions.errors import UsageError
from actions.keys import DEFAULT_KILL_HOTKEY
from actions.models import validation_message
from actions.policy import Policy
from agent.perception.reaction import ReactionSettings


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(default=None, description="PROVIDER:MODEL; None picks by configured keys")
    base_url: str | None = None
    max_steps: int = Field(default=30, ge=1, le=1000)
    max_cost: float | None = Field(default=None, ge=0)
    timeout: float = Field(default=600.0, gt=0, description="Wall-clock deadline of the whole run, in seconds: "
                           "every model request and retry wait is cut to what remains (exit 3 when it passes)")
    max_answer_bytes: int = Field(default=1_000_000, ge=1_000, description="Largest model answer read (HTTP "
                                  "body bytes); a larger one is refused unread (exit 4)")
    max_actions_per_turn: int = Field(default=20, ge=1, le=1000, description="Most actions one model answer "
                                      "may hold; more is refused (exit 4)")
    monitor: int | None = Field(default=None, ge=0)
    virtual: tuple[int, int] | None = None
    dry_run: bool = False
    record_dir: Path = Path("recordings")
    kill_hotkey: str = DEFAULT_KILL_HOTKEY
    record_stop_hotkey: str = "ctrl+alt+shift+r"
    failsafe: bool = True
    keep_screenshots: int = Field(default=3, ge=1, le=50)
    profiles: Path | None = Field(default=None, description="Your model profiles file (TOML), tried first")
    guards: Policy = Policy()
    reaction: ReactionSettings = Field(default_factory=ReactionSettings,
                                       description="[tool.uiagent.reaction]: how long actions wait for the app")
    input: InputPacing = Field(default=InputPacing(), description="Typing and chord pace, per window class")
    secrets: tuple[str, ...] = ()
    sandbox: bool | None = Field(default=None, description="Run --launch apps under bubblewrap; "
                                 "None: on with --virtual, off on your own display")
    sandbox_net: bool = Field(default=False, description="Let sandboxed apps use the network")

    @property
    def confirm(self) -> Literal["never", "risky", "always"]:
        return self.guards.confirm


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _from_pyproject(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"cannot read {path}: {e}") from None
    section = data.get("tool", {}).get("uiagent", {})
    return dict(section) if isinstance(section, dict) else {}


_ENV = {"UIAGENT_MODEL": "model", "UIAGENT_BASE_URL": "base_url", "UIAGENT_MAX_STEPS": "max_steps",
        "UIAGENT_MAX_COST": "max_cost", "UIAGENT_TIMEOUT": "timeout", "UIAGENT_RECORD_DIR": "record_dir",
        "UIAGENT_PROFILES": "profiles", "UIAGENT_SANDBOX": "sandbox"}


def load_settings(overrides: dict[str, Any] | None = None, pyproject: Path | None = None) -> Settings:
    """Merge the layers; a bad value anywhere is one UsageError line naming the field."""
    merged: dict[str, Any] = _from_pyproject(pyproject if pyproject else find_pyproject())
    guards: dict[str, Any] = dict(merged.pop("guards", {}) or {})
    reaction: dict[str, Any] = dict(merged.pop("reaction", {}) or {})
    for var, key in _ENV.items():
        if os.environ.get(var):
            merged[key] = os.environ[var]
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key.startswith("guards."):
            guards[key.removeprefix("guards.")] = value
        elif key.startswith("reaction."):
            reaction[key.removeprefix("reaction.")] = value
        else:
            merged[key] = value
    try:
        return Settings(**merged, guards=Policy(**guards), reaction=ReactionSettings(**reaction))
    except ValidationError as e:
        raise UsageError(f"bad setting: {validation_message(e)}") from None
    except TypeError as e:
        raise UsageError(f"bad setting: {e}") from None
