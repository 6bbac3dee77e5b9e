"""Text corpora for tests and benchmarks, one item a line."""

from __future__ import annotations

from pathlib import Path


def load_lines(name: str) -> list[str]:
    """The lines of `tests/corpora/<name>`, without blank lines and `#` comment lines."""
    text = (Path(__file__).parent / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
