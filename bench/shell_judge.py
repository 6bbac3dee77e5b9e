"""The shell judge's cost per typed line, and how many corpus lines it holds.

    PYTHONPATH=. python bench/shell_judge.py [--rounds 50]

Times `actions.shell.judge_line` over every line of `tests/corpora/destructive_commands.txt` and
`benign_commands.txt`, `--rounds` times each, home=/home/alice. Target: median well under 0.2 ms
(the guards' whole budget per action is 1 ms). "held" counts destructive lines that got their
expected class and benign lines that were allowed, out of those "tried". Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from actions.shell import judge_line
from tests.corpora import load_commands, load_lines

HOME = "/home/alice"


def _time(lines: list[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        for line in lines:
            t0 = time.perf_counter()
            judge_line(line, home=HOME)
            times.append((time.perf_counter() - t0) * 1e6)
    times.sort()
    return times


def _figures(times: list[float]) -> dict[str, float]:
    return {"median_us": round(statistics.median(times), 1),
            "p99_us": round(times[int(len(times) * 0.99)], 1), "max_us": round(times[-1], 1)}


def main(rounds: int = 50) -> dict[str, object]:
    destructive = load_commands("destructive_commands.txt")
    benign = load_lines("benign_commands.txt")
    held_destructive = sum(judge_line(line, home=HOME).decision == cls for cls, line in destructive)
    held_benign = sum(judge_line(line, home=HOME).allowed for line in benign)
    return {
        "destructive": {"held": held_destructive, "tried": len(destructive),
                        **_figures(_time([line for _, line in destructive], rounds))},
        "benign": {"held": held_benign, "tried": len(benign), **_figures(_time(benign, rounds))},
        "rounds": rounds,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    print(json.dumps({"shell_judge": main(parser.parse_args().rounds)}))
