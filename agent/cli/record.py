"""`uiagent record`: a human demonstration written in the standard recording format (kind "record").

The command only parses, builds the options and prints; `agent.demonstration.session` records.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def record(out: Annotated[Path | None, typer.Option("--out", help="Folder for the recording "
                                                    "(default: record_dir, ./recordings)")] = None,
           task: Annotated[str, typer.Option("--task", help="What the demonstration shows")] = "demonstration",
           redact: Annotated[list[str] | None, typer.Option("--redact", help="Screen region x,y,w,h to black "
                                                             "out of every frame and crop (repeatable)")] = None,
           stop_hotkey: Annotated[str | None, typer.Option("--stop-hotkey", help="Chord that stops recording "
                                                            "(default ctrl+alt+shift+r)")] = None,
           no_labels: Annotated[bool, typer.Option("--no-labels", help="Skip OCR/accessibility labels "
                                                   "(targets keep their crop)")] = False) -> None:
    """Record a human demonstration until the stop hotkey, Ctrl-C or SIGTERM (kind "record")."""
    import signal

    from actions.keys import parse_chord
    from actions.secrets import Redactor
    from agent.demonstration.session import (
        RecordOptions,
        StopFlag,
        default_labeler,
        record_demonstration,
        redacted_settings,
    )
    from agent.demonstration.targets import PasswordProbe, parse_region
    from agent.recording.writer import FolderRecorder
    from agent.run.wiring import a11y_reader
    from agent.settings import load_settings

    settings = load_settings({"record_dir": out, "record_stop_hotkey": stop_hotkey})
    parse_chord(settings.record_stop_hotkey)  # a bad chord is a usage error before anything starts
    regions = tuple(parse_region(r) for r in redact or ())
    display = os.environ.get("DISPLAY", "")
    a11y = bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS"))
    reader = a11y_reader(timeout_s=1.0) if a11y and not no_labels else None
    password_probe = PasswordProbe(reader) if reader is not None else None
    options = RecordOptions(
        display=display, task=task, stop_hotkey=settings.record_stop_hotkey,
        sensitive_windows=settings.guards.sensitive_windows, redact_regions=regions,
        labeler=None if no_labels else default_labeler(a11y), password_probe=password_probe,
        settings={"stop_hotkey": settings.record_stop_hotkey, "redact": redacted_settings(regions),
                  "sensitive_windows": list(settings.guards.sensitive_windows), "labels": not no_labels})
    stop = StopFlag()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.stop(signal.Signals(signum).name))

    def ready(folder: Path | None) -> None:
        print(f"recording to {folder}; stop with {settings.record_stop_hotkey} or Ctrl-C", flush=True)

    recorder = FolderRecorder(settings.record_dir, Redactor.from_env(settings.secrets))
    summary = record_demonstration(options, recorder, stop, ready)
    print(f"recorded {summary.steps} steps to {summary.folder} ({summary.outcome.reason})", flush=True)
