"""On-screen prompt injection: detection rates over the corpora and the scan time of a dense screen.

    PYTHONPATH=. python bench/injection.py

- true positives: lines of `tests/corpora/injection_texts.txt` flagged by `detect_in_texts`
- false positives: lines of `tests/corpora/benign_ui_text.txt` flagged (the `#~` ambiguous lines
  are counted apart); and, harsher, random triples and tens of benign lines judged as one paragraph
  (the corpus holds many lines written to look suspicious, so this overstates real screens)
- buried: an injection line put among 9 benign lines of one paragraph, still flagged
- scan time: `detect_injection` over a synthetic 1920x1080 spreadsheet screen of 600 OCR elements
  (menus, a toolbar, a 28x20 grid of cells, a status bar), median of 50 runs. Target: a few ms.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path

from actions.models import Box
from agent.perception.elements import Element
from agent.perception.injection import detect_in_texts, detect_injection
from tests.corpora import load_lines

CORPORA = Path(__file__).resolve().parents[1] / "tests" / "corpora"
WORDS = ("Name", "Amount", "Total", "Q1", "Revenue", "Alice", "Bob", "Run", "Open", "Type", "Paris",
         "=SUM(A1:A9)")


def ambiguous_lines() -> list[str]:
    text = (CORPORA / "benign_ui_text.txt").read_text(encoding="utf-8")
    return [line[3:] for line in text.splitlines() if line.startswith("#~ ")]


def dense_screen(n: int = 600, seed: int = 0) -> list[Element]:
    """A LibreOffice-Calc-like screen: menu bar, toolbar labels, a grid of cells, a status bar."""
    r = random.Random(seed)
    elements: list[Element] = []

    def add(text: str, left: int, top: int, width: int, height: int = 14) -> None:
        elements.append(Element(id=len(elements), text=text,
                                box=Box(left=left, top=top, right=left + width, bottom=top + height)))

    for i, menu in enumerate(("File", "Edit", "View", "Insert", "Format", "Styles", "Sheet", "Data", "Tools",
                              "Window", "Help")):
        add(menu, 8 + i * 60, 30, 8 * len(menu))
    for i in range(20):
        add(r.choice(("Bold", "Italic", "Sum", "Sort", "Filter", "Chart", "Merge")), 8 + i * 90, 60, 40)
    for col in range(20):
        add(chr(ord("A") + col), 60 + col * 92 + 40, 110, 10)
    row = 0
    while len(elements) < n - 2:
        top = 130 + row * 32
        add(str(row + 1), 20, top, 16)
        for col in range(20):
            if len(elements) >= n - 2:
                break
            text = r.choice(WORDS) if r.random() < 0.4 else f"{r.uniform(-9999, 9999):,.2f}"
            add(text, 60 + col * 92 + 4, top, min(84, 8 * len(text)))
        row += 1
    add("Sheet 1 of 3", 8, 1050, 90)
    add("Sum=1,234.50  Average=45.2", 1500, 1050, 200)
    return elements


def scan_ms(elements: list[Element], runs: int = 50) -> dict[str, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        detect_injection(elements)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"elements": len(elements), "median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(runs * 0.95)], 2)}


def main() -> dict[str, object]:
    injections, benign, ambiguous = (load_lines("injection_texts.txt"), load_lines("benign_ui_text.txt"),
                                     ambiguous_lines())
    tp = sum(bool(detect_in_texts([t])) for t in injections)
    fp = [t for t in benign if detect_in_texts([t])]
    r = random.Random(0)

    def paragraph(lines: list[str]) -> str:
        return " ".join(s.rstrip(".") + "." for s in lines)

    triples = [paragraph(r.sample(benign, 3)) for _ in range(2000)]
    fp_triples = sum(bool(detect_in_texts([t])) for t in triples)
    tens = [paragraph(r.sample(benign, 10)) for _ in range(500)]
    fp_tens = sum(bool(detect_in_texts([t])) for t in tens)
    buried = [paragraph([*r.sample(benign, 4), r.choice(injections), *r.sample(benign, 5)])
              for _ in range(300)]
    tp_buried = sum(bool(detect_in_texts([t])) for t in buried)
    screen = dense_screen()
    hits_on_screen = len(detect_injection(screen))
    return {
        "true_positive_rate": round(tp / len(injections), 4), "injections": len(injections),
        "false_positive_rate": round(len(fp) / len(benign), 4), "benign": len(benign), "false_positives": fp,
        "ambiguous_flagged": f"{sum(bool(detect_in_texts([t])) for t in ambiguous)}/{len(ambiguous)}",
        "false_positive_rate_benign_triples": round(fp_triples / len(triples), 4),
        "false_positive_rate_benign_paragraphs_of_10": round(fp_tens / len(tens), 4),
        "true_positive_rate_buried_in_10": round(tp_buried / len(buried), 4),
        "dense_screen_hits": hits_on_screen, "scan": scan_ms(screen),
    }


if __name__ == "__main__":
    print(json.dumps({"injection": main()}, indent=1))
