"""Local fake model servers that speak the providers' wire formats, for tests and benchmarks.

One `FakeModelServer` (a `ThreadingHTTPServer` on 127.0.0.1, port 0) answers every path:
Anthropic Messages (`POST /v1/messages`), OpenAI Responses (`POST /v1/responses`) and Chat
Completions (`POST /v1/chat/completions`). Point the **real** SDK clients at it:

    with FakeModelServer() as server:
        server.script(anthropic_message(tool_use("left_click", coordinate=[10, 20])))
        client = anthropic.Anthropic(base_url=server.url, api_key="x")        # no /v1
        client = openai.OpenAI(base_url=server.openai_url, api_key="x")       # with /v1

Scripting: `script(*replies)` queues replies served in order; a `policy(request) -> Reply | dict`
answers once the queue is empty (e.g. a scripted agent policy for loop tests); with neither, the
server answers 500 "no scripted reply". A dict is sent as JSON with status 200. Every request is
recorded (`requests`, `calls(path)`, `last_json`) so tests can count calls and inspect bodies.

Stalling servers: `never_reply()` holds the connection without a byte until the server stops,
`retry_after_reply(3600)` is a 429 asking for an hour, `huge_reply(100_000_000)` streams a 100 MB
answer (chunked, or with its content-length declared) for as long as the client reads.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest
from PIL import Image


@dataclass
class Reply:
    """One HTTP answer. `body` dict/list -> JSON; str/bytes -> sent as is with `content_type`."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0
    never: bool = False                        # hold the connection, send nothing (until the server stops)
    chunks: Callable[[], Iterator[bytes]] | None = None  # a body streamed as it is generated
    declare_length: int | None = None          # with `chunks`: send this content-length instead of chunking

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body if self.body is not None else {}).encode()


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received: float = field(default_factory=time.monotonic)  # when its headers were read (for bench/startup.py)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def retry_count(self) -> int:
        return int(self.headers.get("x-stainless-retry-count", "0"))


Policy = Callable[[RecordedRequest], "Reply | dict[str, Any]"]


class FakeModelServer:
    """A scripted HTTP server for model APIs. Use as a context manager (or start/stop)."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply | dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()  # releases the handlers of replies that never come

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-model-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL for `anthropic.Anthropic(base_url=...)` (the SDK adds /v1/messages)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        """Base URL for `openai.OpenAI(base_url=...)`."""
        return f"http://127.0.0.1:{self.port}/v1"

    # ------------------------------------------------------------------ scripting
    def script(self, *replies: Reply | dict[str, Any]) -> Self:
        with self._lock:
            self._queue.extend(replies)
        return self

    @property
    def pending(self) -> int:
        return len(self._queue)

    def calls(self, path: str | None = None) -> int:
        """How many requests arrived (on `path`, if given: e.g. "/v1/messages")."""
        return sum(1 for r in self.requests if path is None or r.path == path)

    @property
    def last_json(self) -> Any:
        return self.requests[-1].json

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            item = self._queue.popleft() if self._queue else None
        if item is None and self.policy is not None:
            item = self.policy(request)
        if item is None:
            return Reply(status=500, body={"error": {"type": "fake", "message": "no scripted reply"}})
        return item if isinstance(item, Reply) else Reply(body=item)


def _handler_for(server: FakeModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _serve(self) -> None:
            received = time.monotonic()
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            request = RecordedRequest(method=self.command, path=self.path.split("?")[0],
                                      headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                                      received=received)
            reply = server._answer(request)
            if reply.never:
                server.stopping.wait()
                self.close_connection = True
                return
            if reply.delay:
                time.sleep(reply.delay)
            if reply.chunks is not None:
                self._stream(reply)
                return
            payload = reply.payload()
            try:
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left

        def _stream(self, reply: Reply) -> None:
            assert reply.chunks is not None
            chunked = reply.declare_length is None
            try:
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                if chunked:
                    self.send_header("transfer-encoding", "chunked")
                else:
                    self.send_header("content-length", str(reply.declare_length))
                self.end_headers()
                for chunk in reply.chunks():
                    if server.stopping.is_set():
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: what a bounded client should do
            self.close_connection = True

        do_POST = _serve
        do_GET = _serve

    return Handler


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    """A started FakeModelServer, stopped after the test."""
    with FakeModelServer() as server:
        yield server


# ====================================================================== error replies


def error_reply(status: int, message: str = "fake error", *, retry_after_ms: int | None = 10,
                error_type: str = "api_error") -> Reply:
    """An API error body; `retry-after-ms` keeps the SDKs' backoff short in tests."""
    headers = {"retry-after-ms": str(retry_after_ms)} if retry_after_ms is not None else {}
    return Reply(status=status, headers=headers,
                 body={"type": "error", "error": {"type": error_type, "message": message}})


def html_reply(status: int = 200) -> Reply:
    return Reply(status=status, content_type="text/html; charset=utf-8",
                 body="<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>")


def truncated_json_reply(body: dict[str, Any]) -> Reply:
    text = json.dumps(body)
    return Reply(body=text[: len(text) // 2])


def slow_reply(body: Any, delay: float) -> Reply:
    return Reply(body=body, delay=delay)


def never_reply() -> Reply:
    """A request that is read and never answered (not even headers)."""
    return Reply(never=True)


def retry_after_reply(seconds: float = 3600, status: int = 429) -> Reply:
    """A rate limit asking the client to come back after `seconds` (a `retry-after` header only)."""
    return Reply(status=status, headers={"retry-after": f"{seconds:g}"},
                 body={"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit reached"}})


def huge_reply(size: int = 100_000_000, *, declared: bool = False, chunk: int = 64 * 1024) -> Reply:
    """A 200 answer of `size` bytes: an Anthropic message whose one text block is `size` x's, streamed
    as it is generated (chunked, or `declared` with its content-length)."""
    head = b'{"id":"msg_huge","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"'
    tail = b'"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}'
    block = b"x" * chunk

    def chunks() -> Iterator[bytes]:
        yield head
        left = size - len(head) - len(tail)
        while left > 0:
            yield block[:left]
            left -= chunk
        yield tail

    return Reply(chunks=chunks, declare_length=size if declared else None)


# ====================================================================== Anthropic Messages


def request_images(body: Any) -> list[Image.Image]:
    """Every screenshot in a request body, in order, in any provider's shape (an Anthropic base64
    source, an OpenAI `data:image/...` URL)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "base64" and isinstance(node.get("data"), str):
                found.append(node["data"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str) and node.startswith("data:image/"):
            found.append(node.split(",", 1)[1])

    walk(body)
    return [Image.open(io.BytesIO(base64.b64decode(data))) for data in found]


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def thinking_block(text: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": "sig-" + uuid.uuid4().hex[:16]}


def tool_use(action: str, id: str | None = None, **inputs: Any) -> dict[str, Any]:
    """A `computer` tool call, e.g. tool_use("left_click", coordinate=[512, 384])."""
    return {"type": "tool_use", "id": id or _id("toolu"), "name": "computer", "input": {"action": action, **inputs}}


def anthropic_message(*content: dict[str, Any], stop_reason: str | None = None, model: str = "claude-sonnet-4-5",
                      input_tokens: int = 1500, output_tokens: int = 80, cache_read: int = 0,
                      cache_creation: int = 0) -> dict[str, Any]:
    if stop_reason is None:
        stop_reason = "tool_use" if any(c.get("type") == "tool_use" for c in content) else "end_turn"
    return {"id": _id("msg"), "type": "message", "role": "assistant", "model": model, "content": list(content),
            "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "cache_creation_input_tokens": cache_creation, "cache_read_input_tokens": cache_read}}


# ====================================================================== OpenAI Responses


def reasoning_item(*summary: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": _id("rs"), "summary": [{"type": "summary_text", "text": s} for s in summary]}


def computer_call(action: dict[str, Any] | None = None, *, actions: list[dict[str, Any]] | None = None,
                  safety_checks: tuple[dict[str, Any], ...] = (), call_id: str | None = None) -> dict[str, Any]:
    """Preview: one `action`; GA: a batch of `actions`."""
    item: dict[str, Any] = {"type": "computer_call", "id": _id("cu"), "call_id": call_id or _id("call"),
                            "status": "completed", "pending_safety_checks": list(safety_checks)}
    if actions is not None:
        item["actions"] = actions
    else:
        item["action"] = action or {"type": "screenshot"}
    return item


def output_message(text: str) -> dict[str, Any]:
    return {"type": "message", "id": _id("msg"), "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def responses_body(*output: dict[str, Any], model: str = "computer-use-preview", id: str | None = None,
                   input_tokens: int = 1200, output_tokens: int = 60, cached_tokens: int = 0) -> dict[str, Any]:
    return {"id": id or _id("resp"), "object": "response", "created_at": int(time.time()), "status": "completed",
            "model": model, "output": list(output), "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": [], "truncation": "auto",
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "input_tokens_details": {"cached_tokens": cached_tokens},
                      "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": input_tokens + output_tokens}}


# ====================================================================== Chat Completions


def chat_tool_call(name: str, arguments: dict[str, Any] | str, id: str | None = None) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": id or _id("call"), "type": "function", "function": {"name": name, "arguments": args}}


def chat_body(content: str | None = None, tool_calls: list[dict[str, Any]] | None = None,
              model: str = "gpt-4o", usage: bool = True, prompt_tokens: int = 1300,
              completion_tokens: int = 40) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body: dict[str, Any] = {"id": _id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
                            "model": model,
                            "choices": [{"index": 0, "message": message,
                                         "finish_reason": "tool_calls" if tool_calls else "stop"}]}
    if usage:
        body["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                         "total_tokens": prompt_tokens + completion_tokens}
    return body
