"""Reading actions from a file or stdin for `uiagent act`: a JSON list, or one JSON object per line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import ValidationError

from actions.errors import UsageError
from actions.models import Action, parse_action, validation_message


def load_actions(source: str) -> list[Action]:
    """Parse every action before any is performed; the first bad one is a UsageError naming it."""
    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text()
        except OSError as e:
            raise UsageError(f"cannot read actions from {source}: {e.strerror}") from None
    try:
        data = json.loads(text) if text.lstrip().startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise UsageError(f"{source}: not JSON (line {e.lineno}: {e.msg})") from None
    if not data:
        raise UsageError(f"{source}: no actions")
    actions = []
    for i, item in enumerate(data, 1):
        try:
            actions.append(parse_action(item))
        except ValidationError as e:
            raise UsageError(f"{source}: action {i}: {validation_message(e)}") from None
    return actions
