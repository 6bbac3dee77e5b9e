"""The MCP server: the official SDK's low-level `Server` (`mcp.server.lowlevel`), whose tools are the
pydantic models of `agent.mcp.models` and whose calls run `agent.mcp.tools` on one DesktopSession.

Why the low-level server and not MCPServer (FastMCP): the tools' schemas are our own pydantic models
(validated by them, cross-field rules included) instead of schemas rebuilt from function signatures,
and a call is one explicit table lookup. Transports, JSON-RPC, sessions, elicitation, progress and the
HTTP bearer check are all the SDK's.

The desktop session opens on the first tool call (the server answers `initialize` before OCR loads)
and its recording is finished when the transport ends: stdin closed, the client gone, or a signal.
Over Streamable HTTP the clients of one server share that desktop session, one call at a time.
"""

from __future__ import annotations

import logging
import socket
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
from mcp_types.jsonrpc import INVALID_PARAMS
from pydantic import ValidationError

from actions.errors import UsageError
from actions.executor import decline_all
from actions.models import Action, Verdict, validation_message
from agent import __version__, status
from agent.mcp.models import TOOLS, TOOLS_BY_NAME, call_text

if TYPE_CHECKING:  # the desktop side (wiring, perception, OCR) loads on the first tool call, not at start
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
    """The SDK server plus the desktop session its tool calls share (opened on first use)."""

    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self._stack = ExitStack()
        self._session: DesktopSession | None = None
        self.recorded: Path | None = None  # the session's recording folder, once it started
        self._lock = anyio.Lock()
        self.server: Server[Any] = Server("uiagent", version=__version__, instructions=INSTRUCTIONS,
                                          on_list_tools=self.list_tools, on_call_tool=self.call_tool)

    @property
    def session(self) -> DesktopSession | None:
        return self._session

    def close(self) -> None:
        """Finish the recording and release the desktop (idempotent)."""
        self._session = None
        self._stack.close()

    async def list_tools(self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(name=t.name, description=t.description,
                                                       input_schema=t.input_schema()) for t in TOOLS])

    async def call_tool(self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
                        ) -> types.CallToolResult:
        from agent.mcp.tools import error, run_tool

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
                session = await anyio.to_thread.run_sync(self._ensure)
            except Exception as e:  # the display or the recording folder cannot be had
                log.debug("opening the desktop session failed", exc_info=True)
                return _result(error(f"cannot start the desktop session: {str(e).splitlines()[0] if str(e) else e!r}"))
            session.confirmer.ask = _asker(ctx, session)
            try:
                reply = await anyio.to_thread.run_sync(run_tool, session, spec.name, args,
                                                       call_text(spec.name, arguments), _progress(ctx))
            finally:
                session.confirmer.ask = decline_all
        return _result(reply)

    def _ensure(self) -> DesktopSession:
        if self._session is None:
            status.show("starting the desktop session (OCR models load)")
            try:
                self._session = self._stack.enter_context(self._opener())
                self.recorded = self._session.ctx.recorder.folder
            finally:
                status.clear()
        return self._session


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
        async with stdio_server() as (read, write):
            await server.server.run(read, write, server.server.create_initialization_options())
    finally:
        await anyio.to_thread.run_sync(server.close)


async def serve_http(server: DesktopServer, host: str, port: int, token: str,
                     on_ready: Callable[[str], None] = lambda url: None) -> None:
    """Serve Streamable HTTP at http://host:port/mcp; every request needs `Authorization: Bearer token`."""
    import uvicorn

    from agent.mcp.auth import StaticToken, auth_settings

    url = f"http://{_url_host(host)}:{port}"
    sock = _listen(host, port)  # bound here: a port in use is one clear line, not uvicorn's exit
    app = server.server.streamable_http_app(host=host, auth=auth_settings(url), token_verifier=StaticToken(token))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
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
