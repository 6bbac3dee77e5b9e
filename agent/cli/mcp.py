"""`uiagent mcp`: serve the guarded, recorded desktop over MCP (stdio, or Streamable HTTP with --http).

Parses, builds Settings and the display as `do` does, then hands over to `agent.mcp.server`. On stdio
nothing but the protocol may reach stdout: everything this command says goes to stderr.
"""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from actions.errors import UsageError


def _say(text: str) -> None:
    sys.stderr.write(f"uiagent mcp: {text}\n")
    sys.stderr.flush()


def parse_listen(value: str) -> tuple[str, int]:
    """`[HOST:]PORT` -> (host, port); the host defaults to 127.0.0.1."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--http {value}: expected [HOST:]PORT with a port from 1 to 65535")
    return host, int(port)


def _interrupt_on_term() -> None:
    """SIGTERM ends the server like Ctrl-C: the transport stops and the recording is finished."""
    import signal

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


# Over 50 lines: most of it is the typer signature, one Annotated option per flag.
def mcp(
    http: Annotated[str | None, typer.Option("--http", help="Serve Streamable HTTP on [HOST:]PORT "
                                              "(host 127.0.0.1 by default) instead of stdio")] = None,
    token: Annotated[str | None, typer.Option("--token", help="The bearer token HTTP clients must send "
                                               "(default: $UIAGENT_MCP_TOKEN, else generated and shown)")] = None,
    launch: Annotated[list[str] | None, typer.Option(help="Start this app first and wait for its window "
                                                     "(repeatable)")] = None,
    virtual: Annotated[str | None, typer.Option("--virtual", help="Serve a private Xvfb display of WxH",
                                                show_default=False)] = None,
    model: Annotated[str | None, typer.Option(help="PROVIDER:MODEL run_task uses unless the call names one "
                                              "(default: by configured key, else offline)")] = None,
    confirm: Annotated[str | None, typer.Option(help="never|risky|always: which actions need the client "
                                                "user's yes (asked by MCP elicitation)")] = None,
    record_dir: Annotated[Path | None, typer.Option(help="Where recordings go (default recordings/)")] = None,
    secret: Annotated[list[str] | None, typer.Option(help="Env var NAME whose value may be typed as {{NAME}}; "
                                                     "never returned, masked in files")] = None,
    secret_visible: Annotated[list[str] | None, typer.Option(help="A --secret NAME that may be typed where "
                                                             "it shows (a terminal)")] = None,
    max_actions: Annotated[int, typer.Option(help="The session's action budget: acting tool calls after "
                                             "this many are refused", min=1)] = 1000,
    sandbox: Annotated[bool | None, typer.Option("--sandbox/--no-sandbox", show_default=False,
                                                 help="Run --launch apps under bubblewrap (default: on "
                                                      "with --virtual)")] = None,
) -> None:
    """Serve the desktop over the Model Context Protocol: screenshot, click, type_text, press_key,
    scroll, drag, wait, find_text, run_task, replay; every action guarded and recorded."""
    import anyio

    from agent.cli.app import _check_sandbox, _display_env, _launch_apps, _secrets, _settings, _virtual_size
    from agent.mcp.server import DesktopServer, serve_http, serve_stdio

    listen = parse_listen(http) if http is not None else None
    settings = _settings({"model": model, "record_dir": record_dir, "guards.confirm": confirm, "sandbox": sandbox,
                          "guards.secret_visible": tuple(secret_visible) if secret_visible else None})
    secrets = _secrets(secret or [])
    if stray := [n for n in secret_visible or [] if n not in secrets]:
        raise UsageError(f"--secret-visible {stray[0]}: not given as --secret {stray[0]}")
    _check_sandbox(launch, settings, virtual is not None)
    with ExitStack() as stack:
        display = _display_env(stack, _virtual_size(virtual))
        _launch_apps(stack, launch or [], display, settings, virtual is not None)

        def opener() -> AbstractContextManager[Any]:
            from agent.mcp.session import DesktopSession  # the desktop side loads on the first tool call
            return DesktopSession.open(settings, display, secrets=secrets, max_actions=max_actions)

        server = DesktopServer(opener)
        _interrupt_on_term()
        try:
            if listen is None:
                _say(f"serving MCP on stdio (display {display})")
                anyio.run(serve_stdio, server)
            else:
                bearer = token or os.environ.get("UIAGENT_MCP_TOKEN") or _generated()
                anyio.run(lambda: serve_http(server, *listen, bearer,
                                             on_ready=lambda url: _say(f"serving MCP at {url} (display {display})")))
        except KeyboardInterrupt:
            server.close()
        for folder in server.recorded:
            _say(f"recording: {folder}")


def _generated() -> str:
    from agent.mcp.auth import new_token

    value = new_token()
    _say(f"bearer token (send 'Authorization: Bearer {value}'): {value}")
    return value
