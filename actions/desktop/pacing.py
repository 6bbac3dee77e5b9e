"""How fast input is delivered: a `Pace` per window class, because real toolkits drop keys that
arrive faster than their event loop handles them (LibreOffice Calc kept only the first field of
`12<Tab>30<Tab>=A1+B1<Return>` typed back to back through XTEST).

    pacing = InputPacing()                       # [tool.uiagent.input] in pyproject.toml
    pace = pacing.for_window("libreoffice-calc")  # Pace(key_delay_s=..., chord_delay_s=...)

The desktop sends one key event pair per character, waits for the X server to have handled it
(an XSync round trip) and sleeps `key_delay_s`; after a chord it syncs and sleeps
`chord_delay_s`. The figures come from `bench/input_pacing.py` (BENCHMARKS.md, issue 13).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Pace(BaseModel):
    """Delays after each typed character and after each key chord, in seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    key_delay_s: float = Field(default=0.004, ge=0, le=1.0, description="Pause after each typed character")
    chord_delay_s: float = Field(default=0.03, ge=0, le=2.0, description="Pause after each key chord")


# Window classes (WM_CLASS, lower case, matched as substrings) that need a slower pace.
# LibreOffice Calc lost a field in 2 of 40 back-to-back runs unpaced and none in 30 at 1 ms per
# character and chord (bench/input_pacing.py); 8 ms per character and 60 ms per chord is the margin.
DEFAULT_SLOW_WINDOWS: dict[str, Pace] = {
    "libreoffice": Pace(key_delay_s=0.008, chord_delay_s=0.06),
    "soffice": Pace(key_delay_s=0.008, chord_delay_s=0.06),
}


class InputPacing(BaseModel):
    """`[tool.uiagent.input]`: the pace of typing and chords (`default`, and `windows` by window class,
    substring, lower case) and how long to wait for a target to be actionable or typed text to show."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    ready_timeout_s: float = Field(default=2.0, ge=0, le=60, description="Wait this long for a click target "
                                   "to be stable and enabled, or a dialog's default button before Return")
    verify_timeout_s: float = Field(default=1.0, ge=0, le=30, description="Wait this long for typed text to "
                                    "show in the focused field (read back through accessibility)")
    check: bool = Field(default=True, description="Auto-wait before actions and read typed text back")
    default: Pace = Pace()
    windows: dict[str, Pace] = Field(default_factory=lambda: dict(DEFAULT_SLOW_WINDOWS),
                                     description="Window class -> Pace, for toolkits that drop fast keys")

    def for_window(self, app: str) -> Pace:
        """The pace for a window of class `app` (the longest matching key wins)."""
        app = app.lower()
        hits = [k for k in self.windows if k.lower() in app] if app else []
        return self.windows[max(hits, key=len)] if hits else self.default
