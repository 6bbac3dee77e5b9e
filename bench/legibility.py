"""Legibility of the image each model profile sends (issue 14), on real apps at 1920x1080.

    python -m bench.legibility [--apps xcalc,galculator,xterm,mousepad,calc,chromium] [--runs 20]

For each app (its own Xvfb + openbox, tests/legibility.py launches it with some content): OCR of
the full-resolution screen gives the labels (>= 10 px tall); each profile group's image (size,
format, quality from agent/planners/profiles.toml, scaled and encoded by agent/planners/imaging.py,
then decoded) is read by the same OCR, and a label counts when it reads the same there (see
tests/legibility.py). Also: the downscale filters compared on the 1366x768 image (PNG, so the
filter alone decides), JPEG q85 / q95 / PNG with the filter in use, and capture + scale + encode
through the planners' path (median of --runs), so every speed figure sits next to its check.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from actions.desktop.x11 import PyAutoGUIDesktop
from actions.models import Box
from agent.display import VirtualDisplay
from agent.perception.capture import encode_image
from agent.perception.ocr import RapidOcrEngine
from agent.perception.scaling import ImageSpace, resize
from agent.planners.imaging import encode_observation
from tests.legibility import (
    APPS,
    MUST_READ,
    SCREEN,
    full_labels,
    launch_screen,
    legibility,
    observation_of,
    pipelines,
    sent_image,
    still_screen,
)

MAIN = (1366, 768)  # the Anthropic / OpenAI CUA / Chat Completions image for 1920x1080
R = Image.Resampling


def _cv(interpolation: int) -> Callable[[Image.Image], Image.Image]:
    return lambda im: Image.fromarray(cv2.resize(np.asarray(im), MAIN, interpolation=interpolation))


FILTERS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "OpenCV INTER_LINEAR (before)": _cv(cv2.INTER_LINEAR),
    "OpenCV INTER_AREA": _cv(cv2.INTER_AREA),
    "Pillow BOX": lambda im: im.resize(MAIN, R.BOX),
    "Pillow BILINEAR, antialiased": lambda im: im.resize(MAIN, R.BILINEAR),
    "Pillow LANCZOS (scaling.resize now)": lambda im: resize(im, MAIN),
}
FORMATS = (("jpeg", 85), ("jpeg", 95), ("png", 0))  # the profiles default to q95


def ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def roundtrip(image: Image.Image, fmt: str, quality: int) -> tuple[Image.Image, int]:
    encoded = encode_image(image, "png" if fmt == "png" else "jpeg", quality or 85)
    return Image.open(io.BytesIO(encoded.data)).convert("RGB"), len(encoded.data)


def one_app(app: str, ocr: RapidOcrEngine, runs: int, rows: dict[str, list[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, VirtualDisplay(size=SCREEN, window_manager=True) as vd:
        launch_screen(vd, app, Path(tmp))
        desktop = PyAutoGUIDesktop(vd.display)
        try:
            shot = still_screen(desktop, ocr, MUST_READ[app])
            labels = full_labels(ocr, shot.image)
            region = Box(left=0, top=0, right=SCREEN[0], bottom=SCREEN[1])
            main_space = ImageSpace.scaled(region, MAIN)
            for name, fn in FILTERS.items():
                small = fn(shot.image)
                score = legibility(ocr, labels, roundtrip(small, "png", 0)[0], main_space)
                took = ms(lambda: fn(shot.image), max(3, runs // 4))
                rows["filters"].append(f"| {app} | {name} | {score} | {took:.1f} | {_missed(score.missed)} |")
            small = resize(shot.image, MAIN)
            for fmt, q in FORMATS:
                decoded, size = roundtrip(small, fmt, q)
                score = legibility(ocr, labels, decoded, main_space)
                took = ms(lambda: encode_image(small, "png" if fmt == "png" else "jpeg", q or 85), max(3, runs // 4))
                what = "PNG level 1" if fmt == "png" else f"JPEG q{q}"
                rows["formats"].append(f"| {app} | {what} | {score} | {took:.1f} | {size // 1024} | {_missed(score.missed)} |")
            for pipe in pipelines(SCREEN):
                image, space = sent_image(shot, pipe.profile)
                score = legibility(ocr, labels, image, space)
                path = ms(lambda: encode_observation(observation_of(desktop.capture()), pipe.profile), runs)
                rows["profiles"].append(f"| {app} | {pipe.label} | {score} | {'yes' if score.ratio >= 0.97 else '**no**'} "
                                        f"| {path:.1f} | {_names(pipe.names)} | {_missed(score.missed)} |")
        finally:
            desktop.close()


def zero_key_sweep(ocr: RapidOcrEngine) -> list[str]:
    """xcalc's `0` key read after each filter, at 56 window positions (x 900..913, y 40..43): the
    sub-pixel phase of the window decides what a filter that does not low-pass keeps."""
    window = Image.open(Path(__file__).resolve().parents[1] / "tests" / "unit" / "perception" / "data"
                        / "xcalc_window.png").convert("RGB")
    s = MAIN[0] / SCREEN[0]
    places = [(x, y) for x in range(900, 914) for y in range(40, 44)]
    read = dict.fromkeys(FILTERS, 0)
    for x, y in places:
        screen = Image.new("RGB", SCREEN)
        screen.paste(window, (x, y))
        for name, fn in FILTERS.items():
            crop = fn(screen).crop((int(x * s), int(y * s), int((x + window.width) * s) + 1,
                                    int((y + window.height) * s) + 1))
            read[name] += any(line.text == "0" and line.box.top > crop.height * 0.8 for line in ocr.read(crop))
    return [f"| {name} | {n}/{len(places)} |" for name, n in read.items()]


def _missed(missed: list[str]) -> str:
    return (", ".join(missed[:4]) + (f" +{len(missed) - 4}" if len(missed) > 4 else "")).replace("|", "\\|") or "-"


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", default=",".join(APPS))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores, shared)")
    ocr = RapidOcrEngine()
    rows: dict[str, list[str]] = {"filters": [], "formats": [], "profiles": []}
    for app in args.apps.split(","):
        one_app(app, ocr, args.runs, rows)
        print(f"{app} done, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    print("\n| app | image sent (profiles) | labels read | >= 97% | capture + scale + encode ms (median) | profiles | missed |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows["profiles"]))
    print("\n| app | downscale 1920x1080 -> 1366x768 (PNG) | labels read | scale ms (median) | missed |")
    print("|---|---|---|---|---|")
    print("\n".join(rows["filters"]))
    if "xcalc" in args.apps.split(","):
        print("\n| downscale 1920x1080 -> 1366x768 | xcalc's `0` key read, of 56 window positions |\n|---|---|")
        print("\n".join(zero_key_sweep(ocr)))
    print("\n| app | encoding of the 1366x768 image | labels read | encode ms (median) | KB | missed |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows["formats"]))


if __name__ == "__main__":
    main()
