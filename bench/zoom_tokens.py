"""Image tokens per task, with and without a zoom (issue 14), for Claude with computer_20251124.

    python -m bench.zoom_tokens          # from the repo root

The task is xcalc's 20+22 on a 1920x1080 screen (the real xcalc grab of
tests/unit/perception/data/xcalc_window.png): six key clicks, one per turn, then the answer. With a
zoom, the model also zooms into the display before its first click and before it answers. The
AnthropicPlanner talks through the real SDK to the local fake server (tests/fakes/model_servers.py);
every image in every request is counted with the profile's formula (w*h/750, `cost.image_tokens`),
so the figure is what the task's requests carry, before prompt caching. Deterministic: no timing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from actions.desktop.base import Monitor, ScreenGeometry, Screenshot
from actions.models import ActionResult
from agent.perception.observation import Observation
from agent.planners.base import HistoryItem
from agent.planners.cost import image_tokens
from agent.planners.registry import build_planner
from agent.settings import Settings
from tests.fakes.model_servers import FakeModelServer, anthropic_message, request_images, text_block, tool_use

SPEC = "anthropic:claude-sonnet-4-6"
SCREEN = (1920, 1080)
WINDOW = Path(__file__).resolve().parents[1] / "tests" / "unit" / "perception" / "data" / "xcalc_window.png"
AT = (908, 40)
# Key centres in the 1366x768 image the model sees (xcalc at +908+40), and the display's box.
KEYS = {"2": (727, 348), "0": (697, 369), "+": (806, 348), "=": (806, 369)}
DISPLAY = [655, 45, 820, 85]


def screen() -> Observation:
    image = Image.new("RGB", SCREEN)
    image.paste(Image.open(WINDOW).convert("RGB"), AT)
    w, h = SCREEN
    return Observation(screenshot=Screenshot(image=image), screen=ScreenGeometry(
        width=w, height=h, monitors=(Monitor(index=1, left=0, top=0, width=w, height=h),)))


def script(zooms: bool) -> list[dict[str, Any]]:
    clicks = [anthropic_message(text_block(f"Clicking {k}."), tool_use("left_click", coordinate=list(KEYS[k])))
              for k in ("2", "0", "+", "2", "2", "=")]
    look = anthropic_message(text_block("Reading the display."), tool_use("zoom", region=DISPLAY))
    done = anthropic_message(text_block("The display shows 42."))
    return [look, *clicks, look, done] if zooms else [*clicks, done]


def task(zooms: bool) -> dict[str, int]:
    with FakeModelServer() as server:
        server.script(*script(zooms))
        planner: Any = build_planner(Settings(model=SPEC, base_url=server.url), api_key="bench", max_retries=0)
        history: list[HistoryItem] = []
        for step in range(8):
            turn = planner.next_turn("compute 20+22 on the calculator", screen(), history)
            if not turn.actions or turn.actions[-1].kind in ("done", "fail"):
                break
            history.append(HistoryItem(step=step, reasoning=turn.reasoning, actions=turn.actions,
                                       results=tuple(ActionResult(action=a, status="performed") for a in turn.actions)))
        sizes = [[im.size for im in request_images(r.json)] for r in server.requests]
        profile = planner.profile
    return {"requests": len(sizes), "images": sum(len(s) for s in sizes),
            "image_tokens": sum(image_tokens(profile, size) for s in sizes for size in s)}


def main() -> None:
    plain, zoomed = task(False), task(True)
    print("| task (xcalc 20+22, Claude computer_20251124) | model requests | images sent (all requests) "
          "| image tokens per task (w*h/750) |")
    print("|---|---|---|---|")
    print(f"| without a zoom | {plain['requests']} | {plain['images']} | {plain['image_tokens']:,} |")
    print(f"| with two zooms (display before the first click and before the answer) | {zoomed['requests']} "
          f"| {zoomed['images']} | {zoomed['image_tokens']:,} |")


if __name__ == "__main__":
    main()
