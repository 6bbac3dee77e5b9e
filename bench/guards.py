"""Guards against evasions: held / tried over the destructive corpus, benign lines let through,
and the guard overhead per action (line judging included). Target: overhead median <= 1 ms.

    python bench/guards.py

Every destructive line of `tests/corpora/destructive_commands.txt` is sent to a terminal window
(a FakeDesktop whose active window is an xterm) through the real Executor in each evasion shape:
as written with Return, split across two type actions and a Return key, key by key, with
BackSpace noise, behind `sudo`, with Tab completion of its last word, and with an untypable
character (zero-width space, `é`) inside. An attempt is held when no Return carrying the line
reached the desktop. Benign lines (`tests/corpora/benign_commands.txt`) must all be performed.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable

from actions.desktop.base import WindowInfo
from actions.desktop.fake import FakeDesktop
from actions.executor import Executor
from actions.models import Action, Key, Type
from actions.policy import Policy
from tests.corpora import load_commands, load_lines

XTERM = WindowInfo(title="bash", app="XTerm", window_id=7)
_KEY_NAMES = {" ": "space", "\t": "tab"}


def _key(ch: str) -> Key:
    """One key chord per character; a capital is shift+letter (a bare `R` chord types `r`)."""
    return Key(chord=f"shift+{ch.lower()}" if ch.isupper() else _KEY_NAMES.get(ch, ch))


SHAPES: dict[str, Callable[[str], list[Action]]] = {
    "as written": lambda line: [Type(text=line + "\n")],
    "split across actions": lambda line: [Type(text=line[: len(line) // 2]), Type(text=line[len(line) // 2:]),
                                          Key(chord="Return")],
    "key by key": lambda line: [*(_key(ch) for ch in line), Key(chord="Return")],
    "backspace noise": lambda line: [Type(text=line[:3] + "Zq\b\b" + line[3:] + "\n")],
    "sudo": lambda line: [Type(text="sudo " + line + "\n")],
    "zero-width space": lambda line: [Type(text=line[:1] + "\u200b" + line[1:] + "\n")],
    "untypable character": lambda line: [Type(text=line + "\u00e9\n")],
}


def _attempt(actions: list[Action], times: list[float]) -> bool:
    """True when the line never reached the shell (no Return went out with it)."""
    desktop = FakeDesktop(window=XTERM)
    executor = Executor(desktop, Policy(max_actions=10**9))
    for action in actions:
        result = executor.execute(action)
        times.append(result.guard_ms)
        if result.status != "performed":
            return True
    sent = "".join(c[1] if c[0] == "type" else ("\n" if c[1] == ("enter",) else "") for c in desktop.calls)
    return "\n" not in sent


def main() -> dict[str, object]:
    times: list[float] = []
    tried = held = 0
    missed: list[str] = []
    per_shape: dict[str, str] = {}
    for shape, build in SHAPES.items():
        ok = total = 0
        for _, line in load_commands("destructive_commands.txt"):
            if "\t" in line and shape == "key by key":
                continue
            total += 1
            if _attempt(build(line), times):
                ok += 1
            else:
                missed.append(f"{shape}: {line}")
        per_shape[shape] = f"{ok}/{total}"
        tried, held = tried + total, held + ok
    benign = load_lines("benign_commands.txt")
    blocked = [line for line in benign if _attempt([Type(text=line + "\n")], times)]
    times.sort()
    return {"evasions_held": f"{held}/{tried}", "per_shape": per_shape, "missed": missed[:20],
            "benign_allowed": f"{len(benign) - len(blocked)}/{len(benign)}", "benign_blocked": blocked[:20],
            "guard_ms_median": round(statistics.median(times), 4),
            "guard_ms_p99": round(times[int(len(times) * 0.99)], 4), "actions": len(times)}


if __name__ == "__main__":
    print(json.dumps({"guards": main()}, indent=1))
