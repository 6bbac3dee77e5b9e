"""Terminal output of runs, part of the CLI layer (only the CLI calls it): a line per step with
rich styling on a TTY, plain lines otherwise, and the `--json` summary line."""

from __future__ import annotations

import json
import time
from typing import Any

from agent import status
from agent.recording.format import Step


class StepPrinter:
    def __init__(self, json_mode: bool = False) -> None:
        from rich.console import Console

        # With --json, stdout carries only the JSON line: progress goes to stderr.
        self.console = Console(stderr=json_mode, highlight=False, soft_wrap=True)
        self.started = time.monotonic()
        self.tokens = 0
        self.cost = 0.0

    def intro(self, text: str) -> None:
        status.clear()  # every line below erases the live status first: they never interleave
        self.console.print(f"[bold]uiagent[/] {text}")

    def note(self, text: str) -> None:
        status.clear()
        self.console.print(text)

    def step(self, step: Step) -> None:
        self.tokens += step.usage.input_tokens + step.usage.output_tokens
        self.cost += step.usage.cost_usd
        status.clear()
        what = "; ".join(_describe(r) for r in step.results) or "; ".join(a.describe() for a in step.actions) or "-"
        meta = f"{time.monotonic() - self.started:5.1f}s"
        if step.usage.model_calls:
            meta += f"  {self.tokens:,} tok  ${self.cost:.4f}"
        self.console.print(f"[cyan]step {step.index:>2}[/]  {what}  [dim]{meta}[/]")
        if step.reasoning and step.usage.model_calls:
            self.console.print(f"         [dim]{_one_line(step.reasoning, 140)}[/]")
        for note in step.notes:
            self.console.print(f"         [yellow]{_one_line(note, 140)}[/]")

    def outcome(self, result: Any) -> None:
        status.clear()
        o = result.outcome
        colour = {"done": "green", "failed": "red", "stopped": "yellow"}.get(o.status, "red")
        reason = _one_line(o.reason, 1000 if o.denials else 200)  # escalation lists every denied action
        self.console.print(f"[bold {colour}]{o.status}[/]: {reason}  "
                           f"[dim]({o.steps} steps, {o.model_calls} model calls, {o.duration_s:.1f}s)[/]")
        if result.folder:
            self.console.print(f"recording: {result.folder}")


def _describe(result: Any) -> str:
    text = result.action.describe() if result.action else "invalid action"
    return text if result.ok else f"{text} [red]({result.status}: {result.error or result.verdict.reason})[/]"


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_json(result: Any) -> str:
    o = result.outcome
    return json.dumps({"status": o.status, "steps": o.steps, "recording": str(result.folder) if result.folder else None,
                       "model_calls": o.model_calls, "tokens": o.tokens, "cost_usd": o.cost_usd,
                       "duration_s": o.duration_s, "denials": o.denials, "reason": o.reason})


