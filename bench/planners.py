"""Planner benchmarks (issue 4): overhead per call, image tokens per step, request size growth.

    python -m bench.planners            # from the repo root; prints the markdown for BENCHMARKS.md

Overhead = the planner's own time per turn (scaling, encoding, request building, parsing),
measured as wall time of `next_turn` minus the time spent inside the SDK call, against a local
fake server (tests/fakes/model_servers.py) so the network is excluded.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from actions.desktop.base import Monitor, ScreenGeometry, Screenshot
from actions.models import ActionResult, Box
from agent.perception.elements import Element
from agent.perception.observation import Observation
from agent.planners.base import HistoryItem
from agent.planners.cost import anthropic_image_tokens, openai_tile_tokens, patch28_tokens
from agent.planners.imaging import target_size
from agent.planners.profiles import load_profiles
from agent.planners.registry import DEFAULT_MODELS, build_planner
from agent.settings import Settings
from tests.fakes.model_servers import (
    FakeModelServer,
    RecordedRequest,
    anthropic_message,
    chat_body,
    chat_tool_call,
    computer_call,
    responses_body,
    tool_use,
)

SCREEN = (1920, 1080)
SPECS = ["anthropic:claude-sonnet-4-6", "openai-cua:gpt-5.4", "openai:gpt-4o", "openai:Qwen/Qwen2.5-VL-7B-Instruct",
         "ui-tars:ui-tars-1.5-7b"]
ELEMENTS = tuple(Element(id=i, text=f"item {i}", role="button",
                         box=Box(left=40 + (i % 10) * 180, top=60 + (i // 10) * 90,
                                 right=160 + (i % 10) * 180, bottom=100 + (i // 10) * 90)) for i in range(40))


def desktop_image(seed: int) -> Any:
    from PIL import Image, ImageDraw
    image = Image.new("RGB", SCREEN, (40, 44, 52))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x, y = (131 * (i + seed)) % 1500, (71 * (i + seed)) % 800
        draw.rectangle((x, y, x + 400, y + 260), fill=(235, 235, 235), outline=(0, 0, 0))
        draw.rectangle((x, y, x + 400, y + 24), fill=(60, 90, 160))
        for j in range(10):
            draw.text((x + 10, y + 30 + j * 20), f"Lorem ipsum dolor sit amet {i} {j} {seed}", fill=(0, 0, 0))
    return image


IMAGES = [desktop_image(0), desktop_image(1)]


def observation(step: int) -> Observation:
    w, h = SCREEN
    return Observation(screenshot=Screenshot(image=IMAGES[step % 2]),
                       screen=ScreenGeometry(width=w, height=h, monitors=(Monitor(index=1, left=0, top=0, width=w,
                                                                                        height=h),)),
                       elements=ELEMENTS)


def policy(request: RecordedRequest) -> dict[str, Any]:
    if request.path == "/v1/messages":
        return anthropic_message({"type": "text", "text": "Clicking the next item."},
                                 tool_use("left_click", coordinate=[100, 100]))
    if request.path == "/v1/responses":
        return responses_body(computer_call({"type": "click", "button": "left", "x": 100, "y": 100}))
    if "ui-tars" in request.json.get("model", ""):
        return chat_body("Thought: clicking the next item.\nAction: click(start_box='(100,100)')")
    if "Qwen" in request.json.get("model", ""):
        return chat_body(tool_calls=[chat_tool_call("click", {"x": 100, "y": 100})])
    return chat_body("Clicking the next item.", tool_calls=[chat_tool_call("click", {"mark": 3})])


def run(spec: str, server: FakeModelServer, steps: int) -> tuple[list[float], list[int], list[float]]:
    url = server.url if spec.startswith("anthropic") else server.openai_url
    planner: Any = build_planner(Settings(model=spec, base_url=url), api_key="bench", max_retries=0)
    history: list[HistoryItem] = []
    overhead, sizes, images = [], [], []
    for step in range(steps):
        sdk_before, image_before = planner.stats.sdk_s, planner.stats.image_s
        started = time.perf_counter()
        turn = planner.next_turn("open every item in turn and check it", observation(step), history)
        wall = time.perf_counter() - started
        overhead.append((wall - (planner.stats.sdk_s - sdk_before)) * 1000)
        images.append((planner.stats.image_s - image_before) * 1000)
        sizes.append(len(server.requests[-1].body))
        history.append(HistoryItem(step=step, reasoning=turn.reasoning, actions=turn.actions,
                                   results=tuple(ActionResult(action=a, status="performed") for a in turn.actions)))
    return overhead, sizes, images


def image_pipeline_ms(size: tuple[int, int], repeats: int = 21) -> tuple[float, float]:
    """Median ms of the two image steps alone: scaling.resize (padding for a size above the
    screen's) and JPEG q85 encoding."""
    from agent.perception.scaling import ImageSpace, resize
    from agent.planners.imaging import encode
    space = ImageSpace.scaled(Box(left=0, top=0, right=SCREEN[0], bottom=SCREEN[1]), size)
    r, e = [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        if size[0] >= SCREEN[0]:  # a smart size just above the screen is padded (imaging.scaled_observation)
            small = IMAGES[i % 2].crop((0, 0, *size))
            small.load()
        else:
            small = resize(IMAGES[i % 2], size)
        t1 = time.perf_counter()
        encode(small, space)
        r.append((t1 - t0) * 1000)
        e.append((time.perf_counter() - t1) * 1000)
    return statistics.median(r), statistics.median(e)


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    table = load_profiles()
    print(f"Screen {SCREEN[0]}x{SCREEN[1]}, {steps} steps per planner, 40 marks; fake local server.\n")
    print("| planner | image sent | Anthropic w*h/750 | OpenAI tiles (85+170/tile) | patch28 | overhead median ms "
          "| p90 ms | of which image ms | rest ms | request KB step 5 | step 50 | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    with FakeModelServer(policy) as server:
        for spec in SPECS:
            provider, model = spec.split(":", 1)
            size = target_size(table.lookup(provider, model), *SCREEN)
            overhead, sizes, images = run(spec, server, steps)
            warm = overhead[2:]
            rest = statistics.median(o - i for o, i in zip(warm, images[2:], strict=True))
            p90 = statistics.quantiles(warm, n=10)[-1]
            print(f"| {spec} | {size[0]}x{size[1]} | {anthropic_image_tokens(*size)} | {openai_tile_tokens(*size)} "
                  f"| {patch28_tokens(*size)} | {statistics.median(warm):.1f} | {p90:.1f} "
                  f"| {statistics.median(images[2:]):.1f} | {rest:.1f} | {sizes[4] / 1024:.0f} "
                  f"| {sizes[-1] / 1024:.0f} | {sizes[-1] / sizes[4]:.2f} |")
    print("\n| image size | resize (or pad) ms (median) | JPEG q85 encode ms |\n|---|---|---|")
    for size in [(1366, 768), (1316, 728), (1932, 1092)]:
        r, e = image_pipeline_ms(size)
        print(f"| {size[0]}x{size[1]} | {r:.1f} | {e:.1f} |")
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"\nLoad average during the run: {' '.join(load)} (2 shared cores).")
    print(f"Default with ANTHROPIC_API_KEY: anthropic:{DEFAULT_MODELS['anthropic']}.")


if __name__ == "__main__":
    main()
