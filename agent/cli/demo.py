"""`uiagent demo`: a virtual display, a real app (xcalc, sandboxed unless --no-sandbox), the offline
planner, a recording.

The task clicks 12 + 30 = on xcalc's buttons, found by OCR, and checks that 42 is on screen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack

from agent.display import VirtualDisplay
from agent.planners.offline.planner import OfflinePlanner
from agent.recording.format import Outcome, Step
from agent.run.wiring import RunResult, run_agent
from agent.sandbox import Sandbox, sandbox_enabled
from agent.settings import Settings

DEMO_TASK = "click 1, click 2, click +, click 3, click 0, click =, verify 42"
DEMO_SIZE = (1280, 800)


def run_demo(settings: Settings, on_step: Callable[[Step], None] = lambda s: None,
             stop: threading.Event | None = None, on_end: Callable[[Outcome], None] = lambda o: None) -> RunResult:
    with VirtualDisplay(size=DEMO_SIZE, window_manager=True) as vd, ExitStack() as stack:
        if sandbox_enabled(None, settings.sandbox, virtual=True):
            stack.enter_context(Sandbox(vd.display, vd.env)).launch_app("xcalc")
        else:
            vd.launch_app("xcalc")
        return run_agent(DEMO_TASK, settings, vd.display, OfflinePlanner(), on_step=on_step, stop=stop,
                         on_end=on_end)
