"""The MCP server's logic with the real SDK on both sides (in-memory streams) and a fake desktop:
the image space, confirmations by elicitation, secrets never returned, the action budget, bad input.
The same tools on a real display with real apps: tests/display/test_mcp.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import jsonschema
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError
from mcp.shared.memory import create_client_server_memory_streams
from PIL import Image

from actions.desktop.base import WindowInfo
from actions.desktop.fake import FakeDesktop
from actions.executor import Executor
from actions.models import Box
from actions.policy import Policy
from actions.secrets import Redactor
from agent.mcp.server import DesktopServer
from agent.mcp.session import Confirmer, DesktopSession
from agent.perception.elements import Element
from agent.perception.fake import FakePerceiver
from agent.recording.format import Session
from agent.recording.writer import MemoryRecorder
from agent.run.loop import LoopContext
from agent.settings import Settings

SCREEN = (1600, 1000)  # screenshots are 1280x800: a factor of 1.25
SEVEN = Element(id=3, text="7", role="push button", box=Box(left=400, top=300, right=440, bottom=340), source="a11y")


class Rig:
    def __init__(self, window: str = "Calculator", secrets: dict[str, str] | None = None, budget: int = 100,
                 **policy: Any) -> None:
        frames = [Image.new("RGB", SCREEN, (i % 255, 0, 0)) for i in range(60)]
        self.desktop = FakeDesktop(frames, window=WindowInfo(title=window, app="calc"))
        self.secrets = secrets or {}
        self.redactor = Redactor(self.secrets)
        self.recorder = MemoryRecorder(self.redactor)
        self.confirmer = Confirmer()
        self.policy = Policy(**policy)
        self.budget = budget
        self.server = DesktopServer(self.open)

    @contextmanager
    def open(self) -> Iterator[DesktopSession]:
        perceiver = FakePerceiver(self.desktop, elements=(SEVEN,))
        executor = Executor(self.desktop, self.policy, confirm=self.confirmer, redactor=self.redactor)
        self.recorder.start(Session(kind="mcp", task="MCP session"))
        ctx = LoopContext(desktop=self.desktop, planner=None, executor=executor,  # type: ignore[arg-type]
                          perceiver=perceiver, settle=perceiver.settle, recorder=self.recorder,
                          settings=Settings(), secrets=self.secrets)
        session = DesktopSession(ctx, ":fake", self.confirmer, self.budget)
        try:
            yield session
        finally:
            self.recorder.finish(session.outcome())

    @asynccontextmanager
    async def client(self, elicit: Any = None) -> AsyncIterator[ClientSession]:
        async with create_client_server_memory_streams() as (client_streams, server_streams):
            async with anyio.create_task_group() as tg:
                srv = self.server.server
                tg.start_soon(lambda: srv.run(*server_streams, srv.create_initialization_options()))
                async with ClientSession(*client_streams, elicitation_callback=elicit) as session:
                    await session.initialize()
                    yield session
                tg.cancel_scope.cancel()
        self.server.close()


def text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def clicks(desktop: FakeDesktop) -> list[tuple[int, int]]:
    return [(c[1], c[2]) for c in desktop.calls if c[0] == "click"]


def run(rig: Rig, body: Any, elicit: Any = None) -> None:
    async def main() -> None:
        async with rig.client(elicit) as session:
            await body(session)
    anyio.run(main)


def test_tools_are_listed_with_valid_json_schemas_from_the_models() -> None:
    async def body(session: ClientSession) -> None:
        tools = (await session.list_tools()).tools
        assert len(tools) == 10
        for tool in tools:
            jsonschema.Draft202012Validator.check_schema(tool.input_schema)
            assert tool.description
        click = next(t for t in tools if t.name == "click")
        assert "last screenshot's pixels" in click.input_schema["properties"]["x"]["description"]
    run(Rig(), body)


def test_coordinates_are_in_the_screenshots_pixels_and_land_on_the_screen_scaled() -> None:
    rig = Rig()

    async def body(session: ClientSession) -> None:
        shot = await session.call_tool("screenshot", {"elements": True})
        assert (shot.structured_content or {})["width"] == 1280
        assert "[3] push button '7' (320, 240, 352, 272)" in text(shot)
        done = await session.call_tool("click", {"x": 640, "y": 400})
        assert not done.is_error, text(done)
        timings = (done.structured_content or {})["timings_ms"]   # the server's share of the call is measurable
        assert timings["server"] >= timings["input"] + timings["settle"] and timings["server"] > 0
        on_element = await session.call_tool("click", {"element": 3})
        assert not on_element.is_error, text(on_element)
        outside = await session.call_tool("click", {"x": 1280, "y": 10})
        assert outside.is_error and text(outside) == "(1280, 10) is outside the 1280x800 screenshot"
    run(rig, body)
    assert clicks(rig.desktop) == [(800, 500), (420, 320)]
    steps = rig.recorder.steps
    assert [s.actions[0].kind for s in steps] == ["click", "click"]
    assert steps[1].actions[0].target is not None and steps[1].actions[0].target.label == "7"
    assert rig.recorder.session is not None and rig.recorder.session.outcome.status == "done"


@pytest.mark.parametrize(("answer", "performed"), [
    (types.ElicitResult(action="accept", content={"approve": True}), True),
    (types.ElicitResult(action="accept", content={"approve": False}), False),
    (types.ElicitResult(action="decline"), False),
    (types.ElicitResult(action="cancel"), False),
])
def test_a_confirm_verdict_asks_the_clients_user_by_elicitation(answer: types.ElicitResult, performed: bool) -> None:
    rig, asked = Rig(window="Payment details"), []

    async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return answer

    async def body(session: ClientSession) -> None:
        result = await session.call_tool("click", {"text": "7"})
        assert result.is_error is not performed, text(result)
        if not performed:
            assert text(result).startswith("not performed (declined): the active window 'Payment details' looks")
    run(rig, body, elicit)
    assert len(asked) == 1 and "click '7' at (420, 320)" in asked[0]
    assert clicks(rig.desktop) == ([(420, 320)] if performed else [])


def test_without_elicitation_a_confirm_verdict_is_declined_never_approved() -> None:
    rig = Rig(window="Payment details")

    async def body(session: ClientSession) -> None:
        result = await session.call_tool("click", {"x": 10, "y": 10})
        assert result.is_error and "declined" in text(result)
    run(rig, body)
    assert clicks(rig.desktop) == []
    assert rig.confirmer.asked == ["the active window 'Payment details' looks sensitive (payment)"]


def test_a_secret_is_typed_by_name_and_never_returned() -> None:
    rig = Rig(secrets={"PIN": "2468"}, secret_visible=("PIN",))

    async def body(session: ClientSession) -> None:
        typed = await session.call_tool("type_text", {"text": "{{PIN}}", "screenshot_after": True})
        assert not typed.is_error, text(typed)
        echoed = await session.call_tool("type_text", {"text": "2468"})
        found = await session.call_tool("find_text", {"text": "2468"})
        for result in (typed, echoed, found):
            assert "2468" not in result.model_dump_json()
    run(rig, body)
    assert [c for c in rig.desktop.calls if c[0] == "type"][0][1] == "2468"  # the desktop got the value
    assert "2468" not in "".join(s.model_dump_json() for s in rig.recorder.steps)


def test_the_action_budget_refuses_acting_calls_after_it_is_spent() -> None:
    rig = Rig(budget=2)

    async def body(session: ClientSession) -> None:
        for _ in range(2):
            assert not (await session.call_tool("wait", {"seconds": 0.01})).is_error
        spent = await session.call_tool("click", {"x": 5, "y": 5})
        assert spent.is_error and text(spent) == "this session's action budget of 2 actions is spent"
        assert not (await session.call_tool("screenshot", {})).is_error  # looking still works
    run(rig, body)
    assert len(rig.recorder.steps) == 2


def test_the_guards_rate_limit_applies_per_session() -> None:
    rig = Rig(max_actions=2, rate_window_s=60)

    async def body(session: ClientSession) -> None:
        results = [await session.call_tool("click", {"x": 5, "y": 5}) for _ in range(3)]
        assert [r.is_error for r in results] == [False, False, True]
        assert text(results[2]) == "not performed (denied): more than 2 actions in 60s"
    run(rig, body)


def test_bad_input_is_a_protocol_error_or_one_sentence_and_nothing_is_recorded() -> None:
    rig = Rig()

    async def body(session: ClientSession) -> None:
        with pytest.raises(MCPError, match="unknown tool 'rm'"):
            await session.call_tool("rm", {})
        for args, says in (({"x": "a", "y": 1}, "invalid arguments for click: x:"),
                           ({}, "give exactly one of x and y, text, or element"),
                           ({"x": 1, "y": 2, "text": "7"}, "(got x/y and text)"),
                           ({"element": 9}, "no element 9 in the last screenshot"),
                           ({"text": "Equals"}, "nothing to click: no element reads like 'Equals'")):
            result = await session.call_tool("click", args)
            assert result.is_error and says in text(result) and "\n" not in text(result), text(result)
        assert not (await session.call_tool("click", {"text": "7"})).is_error
    run(rig, body)
    assert len(rig.recorder.steps) == 1


def test_scroll_drag_keys_and_waits_are_mapped_guarded_and_recorded() -> None:
    rig = Rig()

    async def body(session: ClientSession) -> None:
        for tool, args in (("scroll", {"x": 80, "y": 40, "dy": 3}),
                           ("drag", {"path": [{"x": 8, "y": 8}, {"x": 400, "y": 200}]}),
                           ("press_key", {"keys": "ctrl+s"}), ("wait", {"seconds": 0.01})):
            result = await session.call_tool(tool, args)
            assert not result.is_error, (tool, text(result))
            assert text(result).startswith("performed: ")
    run(rig, body)
    calls = [c for c in rig.desktop.calls if c[0] in ("scroll", "drag")]
    assert calls[0][:5] == ("scroll", 100, 50, 0, 3)
    assert calls[1][1] == ((10, 10), (500, 250))
    assert [s.actions[0].kind for s in rig.recorder.steps] == ["scroll", "drag", "key", "wait"]
