"""The MCP server: the official SDK's low-level `Server` (`mcp.server.lowlevel`), whose tools are the
pydantic models of `agent.mcp.models` and whose calls run `agent.mcp.tools` on one DesktopSession.

Why the low-level server and not MCPServer (FastMCP): the tools' schemas are our own pydantic models
(validated by them, cross-field rules included) instead of schemas rebuilt from function signatures,
and a call is one explicit table lookup. Transports, JSON-RPC, sessions, elicitation, progress and the
HTTP bearer check are all the SDK's.

A desktop session opens on an MCP session's first tool call (the server answers `initialize` before
OCR loads) and its recording is finished when that session ends: stdin closed (stdio), a DELETE
(Streamable HTTP), or the server stopping (a signal). Calls run one at a time.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import mcp_types as types
from anyio import from_thread
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types.jsonrpc import INVALID_PARAMS, PARSE_ERROR
from pydantic import ValidationError

from actions.errors import UsageError
from actions.executor import decline_all
from actions.models import Action, Verdict, validation_message
from agent import __version__, status
from agent.mcp.models import TOOLS, TOOLS_BY_NAME, call_text

if TYPE_CHECKING:  # the desktop side (wiring, perception, OCR) loads on the first tool call, not at start
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from agent.mcp.session import DesktopSession
    from agent.mcp.tools import Reply

log = logging.getLogger(__name__)

INSTRUCTIONS = ("Drive this computer's desktop. Take a screenshot first; coordinates are in the last "
                "screenshot's pixels. Every action passes uiagent's guards (a refusal is an error result "
                "with the reason) and is recorded.")
APPROVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"approve": {"type": "boolean", "title": "Allow this action",
                               "description": "true performs it; anything else declines it"}},
    "required": ["approve"],
}
Opener = Callable[[], "AbstractContextManager[DesktopSession]"]


class DesktopServer:
    """The SDK server plus one desktop session (and recording) per MCP session, opened on its first
    tool call: stdio has one; over Streamable HTTP each `Mcp-Session-Id` has its own, finished when the
    client ends it (DELETE) or when the server stops. Calls run one at a time, whoever sends them."""

    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self._sessions: dict[str | None, tuple[ExitStack, DesktopSession]] = {}
        self.recorded: list[Path] = []  # every session's recording folder, in the order they started
        self._lock = anyio.Lock()
        self.server: Server[Any] = Server("uiagent", version=__version__, instructions=INSTRUCTIONS,
                                          on_list_tools=self.list_tools, on_call_tool=self.call_tool)

    def end(self, key: str | None) -> None:
        """Finish that MCP session's recording and release its desktop parts (idempotent)."""
        stack, _ = self._sessions.pop(key, (None, None))
        if stack is not None:
            stack.close()

    async def end_between_calls(self, key: str) -> None:
        async with self._lock:  # not while a call (of that session or another) is running
            await anyio.to_thread.run_sync(self.end, key)

    def close(self) -> None:
        """End every session (the server stops)."""
        for key in list(self._sessions):
            self.end(key)

    async def list_tools(self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(name=t.name, description=t.description,
                                                       input_schema=t.input_schema()) for t in TOOLS])

    async def call_tool(self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
                        ) -> types.CallToolResult:
        from agent.mcp.tools import error, run_tool

        started = time.perf_counter()
        spec = TOOLS_BY_NAME.get(params.name)
        if spec is None:
            raise MCPError(INVALID_PARAMS, f"unknown tool {params.name!r}: the tools are "
                                           f"{', '.join(t.name for t in TOOLS)}")
        arguments = params.arguments or {}
        try:
            args = spec.args.model_validate(arguments)
        except ValidationError as e:
            return _result(error(f"invalid arguments for {spec.name}: {validation_message(e)}"))
        async with self._lock:
            try:
                session = await anyio.to_thread.run_sync(self._ensure, _session_key(ctx))
            except Exception as e:  # the display or the recording folder cannot be had
                log.debug("opening the desktop session failed", exc_info=True)
                return _result(error(f"cannot start the desktop session: {str(e).splitlines()[0] if str(e) else e!r}"))
            session.confirmer.ask = _asker(ctx, session)
            try:
                reply = await anyio.to_thread.run_sync(run_tool, session, spec.name, args,
                                                       call_text(spec.name, arguments), _progress(ctx))
            finally:
                session.confirmer.ask = decline_all
        if isinstance(timings := reply.data.get("timings_ms"), dict):  # the whole call, as the server saw it
            timings["server"] = round((time.perf_counter() - started) * 1000, 2)
        return _result(reply)

    def _ensure(self, key: str | None) -> DesktopSession:
        if key not in self._sessions:
            status.show("starting the desktop session (OCR models load)")
            stack = ExitStack()
            try:
                session = stack.enter_context(self._opener())
            finally:
                status.clear()
            self._sessions[key] = (stack, session)
            if session.ctx.recorder.folder is not None:
                self.recorded.append(session.ctx.recorder.folder)
        return self._sessions[key][1]


def _session_key(ctx: ServerRequestContext[Any]) -> str | None:
    """The Streamable HTTP session id of this request (its `Mcp-Session-Id` header); None on stdio."""
    headers = getattr(ctx.request, "headers", None)  # a Starlette Request over HTTP, None over stdio
    value = headers.get("mcp-session-id") if headers is not None else None
    return str(value) if value else None


def _result(reply: Reply) -> types.CallToolResult:
    content: list[types.ContentBlock] = [types.TextContent(type="text", text=reply.text)]
    if reply.image is not None:
        content.append(types.ImageContent(type="image", data=reply.image.b64, mime_type=reply.image.media_type))
    return types.CallToolResult(content=content, is_error=reply.is_error, structured_content=reply.data or None)


def _asker(ctx: ServerRequestContext[Any], session: DesktopSession) -> Callable[[Action, Verdict], bool]:
    """A confirm callback that asks the client's user by MCP elicitation (from the worker thread);
    declined when the client cannot be asked. Never approved without an explicit yes."""
    def ask(action: Action, verdict: Verdict) -> bool:
        caps = ctx.session.client_capabilities
        if caps is None or caps.elicitation is None:
            return False
        what = session.redactor_text(action.describe())
        message = f"uiagent wants to {what}: {session.redactor_text(verdict.reason)}. Allow it?"
        status.show(f"waiting for the client's user to allow: {what}")
        try:
            answer = from_thread.run(ctx.session.elicit_form, message, APPROVE_SCHEMA, ctx.request_id)
        except Exception:  # the client went away, answered garbage, has no back channel
            log.debug("elicitation failed", exc_info=True)
            return False
        finally:
            status.clear()
        return answer.action == "accept" and (answer.content or {}).get("approve") is True
    return ask


def _progress(ctx: ServerRequestContext[Any]) -> Callable[[float, float | None, str], None]:
    def report(progress: float, total: float | None, message: str) -> None:
        try:
            from_thread.run(ctx.session.report_progress, progress, total, message)
        except Exception:  # progress is best effort: a client that left does not stop the run
            log.debug("progress notification failed", exc_info=True)
    return report


async def serve_stdio(server: DesktopServer) -> None:
    """Serve on stdin/stdout until the client closes them; the recording is finished then."""
    from mcp.server.stdio import stdio_server

    try:
        async with stdio_server() as (read, write), anyio.create_task_group() as tasks:
            sifted_send, sifted = anyio.create_memory_object_stream[SessionMessage | Exception](0)
            tasks.start_soon(_answer_garbage, read, sifted_send, write)
            await server.server.run(sifted, write, server.server.create_initialization_options())
            tasks.cancel_scope.cancel()
    finally:
        await anyio.to_thread.run_sync(server.close)


async def _answer_garbage(read: Any, forward: Any, write: Any) -> None:
    """Pass the client's messages on; a line that is not a JSON-RPC message (the SDK's stdio reader
    hands it over as an exception, which the session only logs) gets a JSON-RPC parse error, as
    JSON-RPC 2.0 asks, and the server goes on serving."""
    async with forward:
        async for item in read:
            if isinstance(item, Exception):
                log.debug("not a JSON-RPC message on stdin: %s", item)
                await write.send(SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=None, error=types.ErrorData(
                    code=PARSE_ERROR, message="that line is not a JSON-RPC message: ignored"))))
            else:
                await forward.send(item)


async def serve_http(server: DesktopServer, host: str, port: int, token: str,
                     on_ready: Callable[[str], None] = lambda url: None) -> None:
    """Serve Streamable HTTP at http://host:port/mcp; every request needs `Authorization: Bearer token`."""
    import uvicorn

    from agent.mcp.auth import StaticToken, auth_settings

    url = f"http://{_url_host(host)}:{port}"
    sock = _listen(host, port)  # bound here: a port in use is one clear line, not uvicorn's exit
    app = server.server.streamable_http_app(host=host, auth=auth_settings(url), token_verifier=StaticToken(token))
    config = uvicorn.Config(_ending_sessions(app, server), host=host, port=port, log_level="warning", lifespan="on")
    web = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: web.serve(sockets=[sock]))
            while not web.started:
                if web.should_exit:
                    break
                await anyio.sleep(0.01)
            if web.started:
                on_ready(f"{url}/mcp")
    finally:
        await anyio.to_thread.run_sync(server.close)


def _ending_sessions(app: ASGIApp, server: DesktopServer) -> ASGIApp:
    """The SDK's app, plus: a DELETE that the SDK accepted (token checked) ends that session's recording."""
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "DELETE":
            await app(scope, receive, send)
            return
        key = dict(scope["headers"]).get(b"mcp-session-id", b"").decode() or None
        answered: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered.append(int(message["status"]))
            await send(message)

        await app(scope, receive, watch)
        if key and answered and answered[0] < 400:
            await server.end_between_calls(key)
    return wrapped


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UsageError(f"--http {host}:{port}: cannot listen there ({e.strerror or e})") from None
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
