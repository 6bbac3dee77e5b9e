"""Placeholder until the detector lands."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from actions.models import Box
from agent.perception.elements import Element


class InjectionHit(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    reason: str
    box: Box | None = None


def detect_injection(elements: Sequence[Element]) -> tuple[InjectionHit, ...]:
    return detect_in_texts([e.text for e in elements])


def detect_in_texts(texts: Sequence[str]) -> tuple[InjectionHit, ...]:
    return tuple(InjectionHit(text=t, reason="ignore previous instructions") for t in texts
                 if "ignore previous instructions" in t.lower())
