"""Elements: named things on screen (from OCR or accessibility), in screen space."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from actions.models import Box

Source = Literal["ocr", "a11y", "merged"]


class Element(BaseModel):
    """One thing a planner can point at: a label, a button, a field. `id` is its mark number."""

    model_config = ConfigDict(frozen=True)
    id: int = Field(ge=0, description="Mark id, unique within one observation")
    text: str = Field(default="", description="Visible text or accessible name")
    role: str = Field(default="text", description="Accessible role, or 'text' for OCR")
    box: Box
    source: Source = "ocr"
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    states: tuple[str, ...] = ()

    def describe(self) -> str:
        b = self.box
        return f"[{self.id}] {self.role} {self.text!r} at ({b.left},{b.top},{b.right},{b.bottom})"
