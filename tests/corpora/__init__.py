"""Text corpora for tests and benchmarks, one item a line; blank lines and `#` lines are comments.

`destructive_commands.txt` holds `<class>\t<line>` rows (class `deny` or `confirm`) for the shell
judge; `benign_commands.txt`, `injection_texts.txt` and `benign_ui_text.txt` one item per line.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def _rows(name: str) -> list[str]:
    text = (HERE / name).read_text(encoding="utf-8")
    return [row for row in text.split("\n") if row.strip() and not row.startswith("#")]


def load_lines(name: str) -> list[str]:
    """Every line of the corpus file `name` (e.g. "benign_commands.txt"), comments dropped."""
    return _rows(name)


def load_commands(name: str) -> list[tuple[str, str]]:
    """(class, line) pairs of a `<class>\\t<line>` corpus such as "destructive_commands.txt"."""
    pairs = []
    for row in _rows(name):
        cls, sep, line = row.partition("\t")
        if not sep or cls not in ("deny", "confirm", "allow"):
            raise ValueError(f"{name}: not '<class><TAB><line>': {row!r}")
        pairs.append((cls, line))
    return pairs
