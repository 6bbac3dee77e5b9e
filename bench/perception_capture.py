"""Capture + scale + encode on a 1920x1080 Xvfb scene, per format, and fingerprint cost.

    python bench/perception_capture.py [--runs 40]

Prints the median of each phase (capture through the Desktop, scale to 1280x720, encode) and of
the total, for JPEG q80, PNG level 1 and WebP method 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from perception_scene import scene

from agent.perception.capture import capture_frame, fingerprint


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    with scene() as s:
        print("| format | capture ms | scale ms | encode ms | total ms (median) | total p90 | bytes |")
        print("|---|---|---|---|---|---|---|")
        for fmt in ("jpeg", "png", "webp"):
            totals, phases, size = [], {"capture": [], "scale": [], "encode": []}, 0
            for _ in range(args.runs):
                t = time.perf_counter()
                frame = capture_frame(s.desktop, size=(1280, 720), fmt=fmt)  # type: ignore[arg-type]
                totals.append((time.perf_counter() - t) * 1000)
                for k, v in frame.timings_ms.items():
                    phases[k].append(v)
                size = len(frame.encoded.data)
            p90 = sorted(totals)[int(0.9 * len(totals)) - 1]
            print(f"| {fmt} | {statistics.median(phases['capture']):.1f} | {statistics.median(phases['scale']):.1f} | "
                  f"{statistics.median(phases['encode']):.1f} | {statistics.median(totals):.1f} | {p90:.1f} | {size} |")
        image = s.desktop.capture().image
        fps = []
        for _ in range(args.runs):
            t = time.perf_counter()
            fingerprint(image)
            fps.append((time.perf_counter() - t) * 1000)
        print(f"fingerprint (1920x1080): median {statistics.median(fps):.2f} ms")


if __name__ == "__main__":
    main()
