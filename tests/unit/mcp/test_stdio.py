"""`uiagent mcp` over its real stdio, bytes on the wire: a line that is not JSON-RPC gets a JSON-RPC
parse error (over HTTP it is a 400 parse error: tests/display/test_mcp.py) and the server keeps
serving; an unknown tool is a JSON-RPC error; stdout carries only the protocol. No display is
touched before a tool runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

UIAGENT = str(Path(sys.executable).parent / "uiagent")


def _ask(proc: subprocess.Popen[str], message: str) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(message + "\n")
    proc.stdin.flush()
    answer: dict[str, Any] = json.loads(proc.stdout.readline())
    return answer


def test_garbage_on_stdin_is_a_json_rpc_error_and_the_server_keeps_serving(tmp_path: Path) -> None:
    proc = subprocess.Popen([UIAGENT, "mcp", "--record-dir", str(tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "DISPLAY": ":9999"})
    try:
        assert proc.stdin is not None
        proc.stdin.write("this is not json {\n\x00\xff garbage\n")
        proc.stdin.flush()
        assert proc.stdout is not None
        for _ in range(2):   # one parse error per line, as JSON-RPC 2.0 answers what it cannot read
            error = json.loads(proc.stdout.readline())
            assert error["id"] is None and error["error"]["code"] == -32700, error
            assert error["error"]["message"] == "that line is not a JSON-RPC message: ignored"
        init = _ask(proc, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}))
        assert init["id"] == 1 and init["result"]["serverInfo"]["name"] == "uiagent"  # the next line's answer
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        wrong = _ask(proc, json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                       "params": {"name": "nope", "arguments": {}}}))
        assert wrong["error"]["code"] == -32602 and "unknown tool 'nope'" in wrong["error"]["message"]
        listed = _ask(proc, json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}))
        assert len(listed["result"]["tools"]) == 10
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def test_bad_listen_addresses_are_one_line_and_exit_2(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for value, says in ((f"127.0.0.1:{port}", "cannot listen there (Address already in use)"),
                            ("99999", "expected [HOST:]PORT with a port from 1 to 65535"),
                            ("localhost:http", "expected [HOST:]PORT")):
            done = subprocess.run([UIAGENT, "mcp", "--http", value, "--token", "t", "--record-dir", str(tmp_path)],
                                  capture_output=True, text=True, timeout=60, env={**os.environ, "DISPLAY": ":9999"})
            assert done.returncode == 2, done.stderr
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"uiagent: error: --http {value}") and says in lines[0], lines


def test_parse_listen_defaults_to_loopback() -> None:
    from agent.cli.mcp import parse_listen

    assert parse_listen("8765") == ("127.0.0.1", 8765)
    assert parse_listen("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
