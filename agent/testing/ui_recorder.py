"""One recording per regression test: many `ui.*` steps (each its own loop run) in one session.

`UIRecorder` wraps a real `Recorder` (a folder) or none (`--uiagent-record=off`: nothing is
written). It numbers steps across the whole test, notes which `ui.*` call each step belongs to,
keeps the target crops in memory (the step cache stores them) and ignores the per-run `finish`
of `run_task`: the test's outcome is written once, by `finish_test`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from agent.recording.format import Outcome, Session, Step
from agent.recording.writer import Recorder, image_digest


class UIRecorder:
    """A `Recorder` for a whole test (see the module docstring)."""

    def __init__(self, inner: Recorder | None = None) -> None:
        self.inner = inner
        self.label = ""                       # the ui.* call the next steps belong to
        self.steps: list[Step] = []
        self.crops: dict[str, Image.Image] = {}
        self.finished = False

    @property
    def folder(self) -> Path | None:
        return self.inner.folder if self.inner is not None else None

    def start(self, session: Session) -> None:
        if self.inner is not None:
            self.inner.start(session)

    def add_frame(self, image: Image.Image) -> str:
        if self.inner is not None:
            return self.inner.add_frame(image)
        return f"{image_digest(image)[0]}.png"

    def add_crop(self, image: Image.Image) -> str:
        crop_hash = self.inner.add_crop(image) if self.inner is not None else image_digest(image)[0]
        self.crops.setdefault(crop_hash, image.copy())
        return crop_hash

    def append(self, step: Step) -> None:
        notes = (self.label, *step.notes) if self.label else step.notes
        step = step.model_copy(update={"index": len(self.steps) + 1, "notes": notes})
        self.steps.append(step)
        if self.inner is not None:
            self.inner.append(step)

    def finish(self, outcome: Outcome) -> None:
        """The end of one loop run inside the test: nothing to do (see `finish_test`)."""

    def flush(self) -> None:
        if self.inner is not None:
            self.inner.flush()

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()

    def finish_test(self, outcome: Outcome) -> None:
        """Write the test's outcome and release the files (once)."""
        if self.finished:
            return
        self.finished = True
        if self.inner is not None:
            try:
                self.inner.finish(outcome.model_copy(update={"steps": len(self.steps)}))
            finally:
                self.inner.close()
