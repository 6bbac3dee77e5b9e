"""Grounding benchmark: how many visible labels OCR (and a11y) find, and whether each found box
lies inside its widget, on xcalc, galculator and the Tk form (1920x1080 Xvfb).

    python bench/perception_grounding.py [--layout default|alt] [--rec-width N]

For each ground-truth (label, widget box):
  found   `find(elements, label, within=widget)` returns an element (text read inside the widget)
  inside  that element's box lies inside the widget (>= 90% of its area)
  top-hit `find(elements, label, within=app window)` (no widget hint; both calculators show
          the same digits, so the window is given) picks an element in the right widget
"""

from __future__ import annotations

import argparse
import time

from perception_scene import scene

from actions.models import Box
from agent.perception.a11y import A11yReader, merge_elements
from agent.perception.elements import Element
from agent.perception.ocr import RapidOcrEngine, find
from agent.perception.ocr_cache import OcrReader
from agent.perception.regions import expand, overlap_small


def score(elements: list[Element], truth: list[tuple[str, Box]], window: Box | None = None) -> dict[str, object]:
    found = inside = top = 0
    missed, outside = [], []
    for label, widget in truth:
        m = find(elements, label, within=expand(widget, 2))
        if m.best is not None:
            found += 1
            ok = overlap_small(m.best.box, widget) >= 0.9 and m.best.box.width <= widget.width + 4
            inside += ok
            if not ok:
                outside.append(f"{label!r} read {m.best.text!r} at {m.best.box.model_dump()} in {widget.model_dump()}")
        else:
            missed.append(label)
        hit = find(elements, label, within=window).best
        top += hit is not None and widget.contains(hit.box.center.x, hit.box.center.y)
    n = len(truth)
    return {"labels": n, "found": found, "found_pct": 100 * found / n, "inside": inside,
            "top_pct": 100 * top / n, "missed": missed,
            "outside": outside}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layout", default="default")
    parser.add_argument("--rec-width", type=int, default=None, help="the recogniser's minimum input width")
    args = parser.parse_args()
    engine = RapidOcrEngine(**({"rec_width": args.rec_width} if args.rec_width else {}))
    engine.load()
    with scene(form_layout=args.layout) as s:
        t = time.perf_counter()
        ocr = OcrReader(engine).read(s.desktop.capture())
        ocr_s = time.perf_counter() - t
        ocr_elements = ocr.elements()
        a11y = A11yReader(s.vd.env["DBUS_SESSION_BUS_ADDRESS"]).read()
        merged = merge_elements(a11y.elements, ocr_elements)
        print(f"full-frame OCR {ocr_s:.2f}s, {len(ocr_elements)} lines; a11y {a11y.elapsed_s * 1000:.0f} ms, "
              f"{len(a11y.elements)} elements; merged {len(merged)}")
        print("| app | labels | OCR found | OCR box inside widget | OCR find() top hit right | "
              "OCR+a11y found | OCR+a11y box inside widget | OCR+a11y top hit right | missed by OCR |")
        print("|---|---|---|---|---|---|---|---|---|")
        for app, name in (("xcalc", "xcalc"), ("galculator", "galculator"), ("form", "uiagent form")):
            w = s.windows[name]
            window = Box(left=w.left, top=w.top, right=w.left + w.width, bottom=w.top + w.height)
            o, m = score(ocr_elements, s.truth[app], window), score(merged, s.truth[app], window)
            print(f"| {app} | {o['labels']} | {o['found']} ({o['found_pct']:.0f}%) | {o['inside']}/{o['found']} | "
                  f"{o['top_pct']:.0f}% | {m['found_pct']:.0f}% | {m['inside']}/{m['found']} | {m['top_pct']:.0f}% | "
                  f"{' '.join(map(str, o['missed'])) or '-'} |")
            for line in o["outside"]:  # type: ignore[attr-defined]
                print(f"  {app}: box not inside its widget: {line}")


if __name__ == "__main__":
    main()
