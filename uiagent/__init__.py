"""uiagent: a desktop UI-automation agent (perceive -> plan -> act, recorded and replayable).

The library surface, in one import:

    import uiagent

    with uiagent.VirtualDisplay() as vd:                      # or an existing DISPLAY
        result = uiagent.run_agent("click 7, click +, click 5, click =, verify 12",
                                   uiagent.Settings(), vd.display, uiagent.OfflinePlanner())
    recording = uiagent.load_recording(result.folder)
    uiagent.replay_recording(recording, display=vd.display, settings=uiagent.Settings())

Importing it loads no model SDK: `build_planner` imports a provider's module on first use.
The code lives in the wings `actions` (the action language and its execution) and `agent`
(run, perception, planners, recording, demonstration, replay, testing, cli): see ARCHITECTURE.md.
"""

from actions.desktop.base import Desktop, Monitor, ScreenGeometry, Screenshot, WindowInfo
from actions.desktop.fake import DryRunDesktop, FakeDesktop
from actions.desktop.x11 import PyAutoGUIDesktop
from actions.errors import (
    BudgetExceeded,
    DisplayError,
    KillSwitchPressed,
    PlannerOutputError,
    ProviderError,
    Stopped,
    TaskFailed,
    UIAgentError,
    UsageError,
)
from actions.executor import Executor
from actions.models import (
    Action,
    ActionResult,
    Box,
    Click,
    Done,
    Drag,
    Fail,
    Key,
    Move,
    Point,
    Scroll,
    Target,
    Type,
    Verdict,
    Wait,
    parse_action,
)
from actions.policy import Policy
from agent import __version__
from agent.display import VirtualDisplay
from agent.perception.fake import FakePerceiver
from agent.perception.observation import Observation
from agent.perception.perceiver import Perceiver, ScreenPerceiver
from agent.planners.base import Capabilities, Planner, Turn, Usage
from agent.planners.offline.planner import OfflinePlanner
from agent.planners.registry import build_planner
from agent.planners.scripted import ScriptedPlanner
from agent.recording.format import Outcome, Recording, Session, Step, load_recording
from agent.recording.report import write_report
from agent.recording.writer import FolderRecorder, MemoryRecorder, Recorder
from agent.replay.playback import ReplayResult, replay_recording
from agent.run.loop import LoopContext, run_task
from agent.run.wiring import RunResult, run_agent
from agent.settings import Settings, load_settings
from agent.testing.ui import UI, UIStepFailed

__all__ = [
    "UI",
    "Action",
    "ActionResult",
    "Box",
    "BudgetExceeded",
    "Capabilities",
    "Click",
    "Desktop",
    "DisplayError",
    "Done",
    "Drag",
    "DryRunDesktop",
    "Executor",
    "Fail",
    "FakeDesktop",
    "FakePerceiver",
    "FolderRecorder",
    "Key",
    "KillSwitchPressed",
    "LoopContext",
    "MemoryRecorder",
    "Monitor",
    "Move",
    "Observation",
    "OfflinePlanner",
    "Outcome",
    "Perceiver",
    "Planner",
    "PlannerOutputError",
    "Point",
    "Policy",
    "ProviderError",
    "PyAutoGUIDesktop",
    "Recorder",
    "Recording",
    "ReplayResult",
    "RunResult",
    "ScreenGeometry",
    "ScreenPerceiver",
    "Screenshot",
    "ScriptedPlanner",
    "Scroll",
    "Session",
    "Settings",
    "Step",
    "Stopped",
    "Target",
    "TaskFailed",
    "Turn",
    "Type",
    "UIAgentError",
    "UIStepFailed",
    "Usage",
    "UsageError",
    "Verdict",
    "VirtualDisplay",
    "Wait",
    "WindowInfo",
    "__version__",
    "build_planner",
    "load_recording",
    "load_settings",
    "parse_action",
    "replay_recording",
    "run_agent",
    "run_task",
    "write_report",
]
