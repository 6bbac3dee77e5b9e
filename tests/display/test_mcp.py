"""`uiagent mcp` driven by the official MCP client SDK (`ClientSession` over stdio and over Streamable
HTTP) on real displays: xcalc computes 12+30 by clicks on text and 42+8 by clicks at coordinates
from the screenshot's pixel space, both read back by OCR; a destructive shell line in a real xterm is
refused and its canary survives; a sensitive window asks the client's user (declined here); HTTP
without the bearer token is a 401; the session's recording loads in `uiagent show` and replays."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jsonschema
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from PIL import Image

from agent.display import VirtualDisplay
from agent.recording.format import load_recording
from tests.conftest import run_cli, wait_until

pytestmark = pytest.mark.slow

UIAGENT = str(Path(sys.executable).parent / "uiagent")
SIZE = (1600, 1000)   # scaled to 1280x800 in the screenshots: client pixels are not screen pixels
CALC = "xcalc -geometry +300+120"


def _server_env(vd: VirtualDisplay) -> dict[str, str]:
    return {**os.environ, **vd.env}


@asynccontextmanager
async def stdio_session(vd: VirtualDisplay, record_dir: Path, *extra: str,
                        elicit: Callable[..., Any] | None = None) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=UIAGENT, args=["mcp", "--record-dir", str(record_dir), *extra],
                                   env=_server_env(vd))
    async with stdio_client(params) as (read, write), \
            ClientSession(read, write, elicitation_callback=elicit) as session:
        await session.initialize()
        yield session


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def image_of(result: types.CallToolResult) -> Image.Image:
    images = [c for c in result.content if isinstance(c, types.ImageContent)]
    assert len(images) == 1, result
    return Image.open(io.BytesIO(base64.b64decode(images[0].data)))


async def ok(session: ClientSession, tool: str, **arguments: Any) -> types.CallToolResult:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}({arguments}): {text_of(result)}"
    return result


async def reads(session: ClientSession, text: str) -> int:
    """How many places on screen read exactly `text` (OCR of a fresh screenshot)."""
    found = await ok(session, "find_text", text=text)
    return sum(m["text"].strip() == text for m in (found.structured_content or {}).get("matches", []))


async def shows(session: ClientSession, number: str) -> bool:
    """xcalc's display reads `number` (no key does: 42, 50)."""
    return await reads(session, number) > 0


def _recording(record_dir: Path) -> Path:
    folders = [p for p in record_dir.iterdir() if (p / "session.json").exists()]
    assert len(folders) == 1, folders
    return folders[0]


@pytest.fixture
def calc_display() -> Iterator[VirtualDisplay]:
    with VirtualDisplay(size=SIZE, window_manager=True) as vd:
        vd.launch_app(CALC)
        yield vd


def test_stdio_xcalc_by_text_and_by_coordinates_recorded_then_shown_and_replayed(
        calc_display: VirtualDisplay, tmp_path: Path) -> None:
    record_dir = tmp_path / "rec"

    async def main() -> None:
        async with stdio_session(calc_display, record_dir) as session:
            listed = await session.list_tools()
            names = {t.name for t in listed.tools}
            assert names == {"screenshot", "click", "type_text", "press_key", "scroll", "drag", "wait",
                             "find_text", "run_task", "replay"}
            for tool in listed.tools:
                jsonschema.Draft202012Validator.check_schema(tool.input_schema)
            shot = await ok(session, "screenshot", elements=True)
            assert image_of(shot).size == (1280, 800)
            assert "screenshot 1280x800 pixels (screen 1600x1000)" in text_of(shot)
            for key in ("1", "2", "+", "3", "0", "="):
                await ok(session, "click", text=key)
            assert await shows(session, "42")
            # By coordinates: + 8 = from the screenshot's own element boxes (its pixel space).
            shot = await ok(session, "screenshot", elements=True)
            boxes = {e["text"]: e["box"] for e in (shot.structured_content or {})["elements"]}
            for key in ("+", "8", "="):
                x0, y0, x1, y1 = boxes[key]
                await ok(session, "click", x=(x0 + x1) // 2, y=(y0 + y1) // 2)
            assert await shows(session, "50")

    anyio.run(main)
    folder = _recording(record_dir)
    loaded = load_recording(folder)
    assert loaded.session.kind == "mcp"
    assert loaded.session.outcome.status == "done"
    assert [s.actions[0].kind for s in loaded.steps] == ["click"] * 9
    shown = run_cli("show", str(folder))
    assert shown.returncode == 0, shown.stderr
    assert Path(shown.stdout.strip()).exists()
    with VirtualDisplay(size=SIZE, window_manager=True) as vd:
        vd.launch_app(CALC)
        replayed = run_cli("replay", str(folder), "--record-dir", str(tmp_path / "replays"), "--json",
                           env=vd.env, timeout=120)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr


def test_bad_input_is_one_sentence_and_the_server_keeps_serving(calc_display: VirtualDisplay,
                                                                tmp_path: Path) -> None:
    record_dir = tmp_path / "rec"

    async def main() -> None:
        async with stdio_session(calc_display, record_dir) as session:
            with pytest.raises(Exception, match="unknown tool 'format_disk'"):
                await session.call_tool("format_disk", {})
            cases = {
                ("click", json.dumps({"x": "left"})): "invalid arguments for click",
                ("click", json.dumps({"x": 5})): "x and y go together",
                ("click", json.dumps({"x": 5000, "y": 10})): "outside the 1280x800 screenshot",
                ("click", json.dumps({"text": "no such button qzx"})): "nothing to click",
                ("press_key", json.dumps({"keys": "ctrl+nosuchkey"})): "unknown key name",
                ("replay", json.dumps({"recording": str(tmp_path)})): "recording",
            }
            for (tool, args), expected in cases.items():
                result = await session.call_tool(tool, json.loads(args))
                assert result.is_error, (tool, args, text_of(result))
                assert expected in text_of(result), (tool, args, text_of(result))
                assert len(text_of(result).splitlines()) == 1
            await ok(session, "click", text="7")  # still serving, still acting
            assert await reads(session, "7") == 2  # the key and the display

    anyio.run(main)
    loaded = load_recording(_recording(record_dir))
    assert [s.actions[0].kind for s in loaded.steps] == ["click"]
    assert loaded.session.outcome.status == "done"


def test_a_destructive_shell_line_is_refused_and_the_canary_survives(tmp_path: Path) -> None:
    with VirtualDisplay(size=(1280, 800), window_manager=True) as vd:
        home = Path(vd.env["HOME"])
        (home / "canary").mkdir()
        (home / "canary" / "keep.txt").write_text("still here\n")
        vd.launch_app("xterm -e bash --norc --noprofile")

        async def main() -> None:
            async with stdio_session(vd, tmp_path / "rec") as session:
                await ok(session, "type_text", text="touch ~/probe-0\n")
                wait_until(lambda: (home / "probe-0").exists(), what="bash to run the probe")
                refused = await session.call_tool("type_text", {"text": "rm -rf ~/\n"})
                assert refused.is_error
                assert "not performed (denied)" in text_of(refused), text_of(refused)
                await ok(session, "press_key", keys="ctrl+u")
                await ok(session, "type_text", text="touch ~/probe-1\n")
                wait_until(lambda: (home / "probe-1").exists(), what="bash to run the second probe")

        anyio.run(main)
        assert (home / "canary" / "keep.txt").read_text() == "still here\n"


def test_a_sensitive_window_asks_the_clients_user_and_a_decline_performs_nothing(tmp_path: Path) -> None:
    asked: list[str] = []

    async def decline(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="decline")

    with VirtualDisplay(size=(1280, 800), window_manager=True) as vd:
        vd.launch_app("xcalc -title 'Payment calculator' -geometry +200+100")

        async def main() -> None:
            async with stdio_session(vd, tmp_path / "rec", elicit=decline) as session:
                result = await session.call_tool("click", {"text": "7"})
                assert result.is_error
                assert "not performed (declined)" in text_of(result)
                assert "sensitive" in text_of(result)
                assert await reads(session, "7") == 1  # the key only: the display still reads 0

        anyio.run(main)
    assert len(asked) == 1 and "Payment calculator" in asked[0] and "Allow it?" in asked[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_http_needs_the_bearer_token_and_then_drives_xcalc(calc_display: VirtualDisplay, tmp_path: Path) -> None:
    port, token = _free_port(), "test-token-123"
    record_dir = tmp_path / "rec"
    proc = subprocess.Popen([UIAGENT, "mcp", "--http", f"127.0.0.1:{port}", "--token", token,
                             "--record-dir", str(record_dir)], env=_server_env(calc_display),
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert f"serving MCP at http://127.0.0.1:{port}/mcp" in line, line
        url = f"http://127.0.0.1:{port}/mcp"
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "t", "version": "1"}}}
        headers = {"Accept": "application/json, text/event-stream"}
        assert httpx2.post(url, json=init, headers=headers).status_code == 401
        wrong = {**headers, "Authorization": "Bearer nope"}
        assert httpx2.post(url, json=init, headers=wrong).status_code == 401
        garbage = httpx2.post(url, content=b"not json {", headers={**headers, "Authorization": f"Bearer {token}",
                                                                  "Content-Type": "application/json"})
        assert garbage.status_code == 400 and garbage.json()["error"]["code"] == -32700

        async def main(keys: tuple[str, ...], reads: str) -> None:
            client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
            async with client, streamable_http_client(url, http_client=client) as (read, write), \
                    ClientSession(read, write) as session:
                await session.initialize()
                assert len((await session.list_tools()).tools) == 10
                shot = await ok(session, "screenshot")
                assert image_of(shot).size == (1280, 800)
                for key in keys:
                    await ok(session, "click", text=key)
                assert await shows(session, reads)

        anyio.run(main, ("6", "*", "7", "="), "42")
        # The client ended its MCP session (DELETE): its recording is finished, the server serves on.
        first = _recording(record_dir)
        wait_until(lambda: load_recording(first).session.outcome.status == "done", what="the first recording")
        anyio.run(main, ("+", "8", "="), "50")
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    recordings = sorted(p for p in record_dir.iterdir() if (p / "session.json").exists())
    assert [len(load_recording(p).steps) for p in recordings] == [4, 3]
    assert {load_recording(p).session.outcome.status for p in recordings} == {"done"}
    assert {load_recording(p).session.kind for p in recordings} == {"mcp"}


INSPECTOR = Path(__file__).parents[2] / ".cache" / "mcp-inspector" / "node_modules" / ".bin" / "mcp-inspector"


def _inspector(vd: VirtualDisplay, record_dir: Path, *method: str) -> dict[str, Any]:
    """One call of the MCP Inspector's CLI (an independent client, in Node) against `uiagent mcp`."""
    assert INSPECTOR.exists(), "the MCP Inspector is missing: run scripts/setup.sh test"
    env = [f"{k}={v}" for k, v in {**vd.env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}.items()
           if k in ("DISPLAY", "HOME", "XAUTHORITY", "PYTHONPATH", "DBUS_SESSION_BUS_ADDRESS") and v]  # no empty
    cmd = [str(INSPECTOR), "--cli", *(a for pair in env for a in ("-e", pair)), UIAGENT, "mcp", "--record-dir",
           str(record_dir), *method]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)  # digits as text: "\"4\"" (JSON)
    assert done.stdout.strip(), done.stderr
    answer: dict[str, Any] = json.JSONDecoder().raw_decode(done.stdout.strip())[0]  # an error line may follow
    return answer


def test_the_mcp_inspector_cli_lists_the_tools_and_clicks_xcalc(calc_display: VirtualDisplay,
                                                                tmp_path: Path) -> None:
    listed = _inspector(calc_display, tmp_path / "rec", "--method", "tools/list")
    assert len(listed["tools"]) == 10
    clicked = _inspector(calc_display, tmp_path / "rec", "--method", "tools/call", "--tool-name", "click",
                         "--tool-arg", "text=\"4\"")
    assert not clicked.get("isError"), clicked
    found = _inspector(calc_display, tmp_path / "rec", "--method", "tools/call", "--tool-name", "find_text",
                       "--tool-arg", "text=\"4\"")
    assert sum(m["text"].strip() == "4" for m in found["structuredContent"]["matches"]) == 2  # key and display


def test_run_task_reports_progress_per_step_and_its_recording_replays_through_the_replay_tool(
        calc_display: VirtualDisplay, tmp_path: Path) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def main() -> None:
        async with stdio_session(calc_display, tmp_path / "rec") as session:
            ran = await session.call_tool("run_task", {"task": "click 1, click 2, click +, click 3, click 0, "
                                                                "click =, verify 42"},
                                          progress_callback=on_progress)
            assert not ran.is_error, text_of(ran)
            data = ran.structured_content or {}
            assert data["status"] == "done" and Path(data["recording"]).is_dir()
            assert [p[0] for p in progress] == list(range(1, data["steps"] + 1))
            assert any("click '1'" in (p[2] or "") for p in progress), progress
            await ok(session, "click", text="AC")
            replayed = await session.call_tool("replay", {"recording": data["recording"]})
            assert not replayed.is_error, text_of(replayed)
            assert (replayed.structured_content or {})["status"] == "done"
            assert await shows(session, "42")

    anyio.run(main)


def test_virtual_and_launch_work_as_for_do(tmp_path: Path) -> None:
    params = StdioServerParameters(command=UIAGENT, args=["mcp", "--virtual", "1366x768", "--launch", "xcalc",
                                                          "--record-dir", str(tmp_path)], env=dict(os.environ))

    async def main() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            shot = await ok(session, "screenshot", elements=True)
            assert image_of(shot).size == (1366, 768)  # no smaller XGA target fits: the screen as it is
            assert any(e["text"] == "=" for e in (shot.structured_content or {})["elements"])

    anyio.run(main)
    assert load_recording(_recording(tmp_path)).session.kind == "mcp"


def test_a_secret_is_typed_by_name_in_a_real_terminal_and_never_comes_back(tmp_path: Path) -> None:
    with VirtualDisplay(size=(1280, 800), window_manager=True) as vd:
        home = Path(vd.env["HOME"])
        vd.launch_app("xterm -e bash --norc --noprofile")
        os.environ["UIAGENT_TEST_PIN"] = "8642"
        try:
            async def main() -> list[str]:
                async with stdio_session(vd, tmp_path / "rec", "--secret", "UIAGENT_TEST_PIN", "--secret-visible",
                                         "UIAGENT_TEST_PIN") as session:
                    typed = await ok(session, "type_text", text="echo {{UIAGENT_TEST_PIN}} > ~/pin.txt\n")
                    wait_until(lambda: (home / "pin.txt").exists(), what="bash to write the file")
                    found = await ok(session, "find_text", text="8642")
                    shot = await ok(session, "screenshot", elements=True)
                    return [r.model_dump_json() for r in (typed, found, shot)]

            answers = anyio.run(main)
        finally:
            del os.environ["UIAGENT_TEST_PIN"]
        assert (home / "pin.txt").read_text().strip() == "8642"  # the value was typed
    assert not [a for a in answers if "8642" in a]
    folder = _recording(tmp_path / "rec")
    assert "8642" not in (folder / "steps.jsonl").read_text()
