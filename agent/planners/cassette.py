"""Model cassettes: every model request/response pair of a run, stored so the run can be re-played
offline, at the HTTP layer (the real SDK code path runs; only the socket is replaced).

    uiagent do TASK --model anthropic:... --cassette             # RECORDING/cassette.jsonl
    uiagent do TASK --cassette-replay RECORDING                   # no server needed

`CassetteRecorder` and `CassettePlayer` are httpx2 transports handed to the SDK clients through
`http_client` (agent.planners.transport). One JSON line per HTTP exchange, in order: the request
(method, path, JSON body with every image replaced by `image:<sha1>`, the image itself written once
to RECORDING/cassette/<sha1>.<ext>) and the response (status, a few headers, body).

The player answers the n-th request with the n-th stored response after checking that the request
matches the stored one. Volatile parts are normalised first: dates and clock times in text, and
images by hash; a screenshot whose hash differs still matches when it has the same size and
under 1% of its pixels differ. A request that does not match is answered with HTTP 400 (no retry)
whose message names the first difference, so the run stops with the provider error (exit 4).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

import httpx2

from actions.errors import UsageError
from actions.secrets import Redactor
from agent.planners.limits import DEFAULT_MAX_ANSWER_BYTES, too_large

log = logging.getLogger(__name__)

CASSETTE_FILE = "cassette.jsonl"
IMAGES_DIR = "cassette"
IMAGE_DIGEST = re.compile(r"[0-9a-f]{20}")  # what `_image_ref` names an image: sha1, 20 hex digits
_KEEP_HEADERS = ("content-type", "request-id", "x-request-id", "retry-after", "retry-after-ms", "x-should-retry")
_DATA_URL = re.compile(r"^data:(image/[\w.+-]+);base64,(.*)$", re.DOTALL)
_VOLATILE = [(re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"),
              "<date>"),
             (re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b"), "<time>")]
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
PIXEL_TOLERANCE = 0.01   # share of pixels that may differ between a stored and a new screenshot


class CassetteMismatch(Exception):
    """The replayed run asked something the recorded run did not (carried as an HTTP 400 to the SDK)."""


def _image_ref(media_type: str, data: str, store: Path | None, seen: dict[str, bytes] | None) -> str:
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return data
    digest = hashlib.sha1(raw).hexdigest()[:20]
    if seen is not None:
        seen[digest] = raw
    if store is not None:
        path = store / f"{digest}.{_EXT.get(media_type, 'bin')}"
        if not path.exists():
            store.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(raw)
            tmp.replace(path)
    return f"image:{digest}"


def normalise(value: Any, store: Path | None = None, seen: dict[str, bytes] | None = None) -> Any:
    """A request body with images as `image:<sha1>` (written to `store`, or kept in `seen`) and
    volatile text masked."""
    if isinstance(value, dict):
        if value.get("type") == "base64" and isinstance(value.get("data"), str):
            return {**value, "data": _image_ref(str(value.get("media_type", "")), value["data"], store, seen)}
        return {k: normalise(v, store, seen) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, store, seen) for v in value]
    if isinstance(value, str):
        if m := _DATA_URL.match(value):
            return _image_ref(m.group(1), m.group(2), store, seen)
        for pattern, mask in _VOLATILE:
            value = pattern.sub(mask, value)
    return value


def _body(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"raw": content.decode("utf-8", "replace")}


class CassetteRecorder(httpx2.BaseTransport):
    """Passes requests to the real transport and appends each exchange to RECORDING/cassette.jsonl."""

    def __init__(self, inner: httpx2.BaseTransport | None = None,
                 max_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> None:
        self.inner = inner or httpx2.HTTPTransport()
        self.max_bytes = max_bytes  # an answer over the bound is refused before it is read or stored
        self.folder: Path | None = None
        self.count = 0
        self.redactor = Redactor()
        self._lock = threading.Lock()

    def attach(self, folder: Path, redactor: Redactor | None = None) -> None:
        """Where to write: the run's recording folder (known once the recorder has started);
        `redactor` masks the run's secrets in what is stored, like the recording."""
        self.folder = folder
        self.redactor = redactor or Redactor()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        sent = request.read()
        response = self.inner.handle_request(request)
        content = self._read(request, response)
        self._write(request, sent, response, content)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-encoding",
                                                                                  "content-length", "transfer-encoding")}
        return httpx2.Response(response.status_code, headers=headers, content=content, request=request)

    def _read(self, request: httpx2.Request, response: httpx2.Response) -> bytes:
        """The body, read up to `max_bytes` (the SDK's own bound comes after this transport)."""
        chunks, seen = [], 0
        for chunk in response.iter_bytes():
            seen += len(chunk)
            if seen > self.max_bytes:
                response.close()
                raise too_large("cassette", str(request.url.copy_with(query=None)), self.max_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    def _write(self, request: httpx2.Request, sent: bytes, response: httpx2.Response, content: bytes) -> None:
        if self.folder is None:
            log.warning("cassette: not attached to a recording; exchange not stored")
            return
        entry = {"n": self.count + 1, "request": {"method": request.method, "path": request.url.path,
                                                   "body": normalise(_body(sent), self.folder / IMAGES_DIR)},
                 "response": {"status": response.status_code,
                              "headers": {k: v for k, v in response.headers.items() if k.lower() in _KEEP_HEADERS},
                              "body": content.decode("utf-8", "replace")}}
        line = json.dumps(self.redactor.data(entry), ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            with open(self.folder / CASSETTE_FILE, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
            self.count += 1

    def close(self) -> None:
        self.inner.close()


class CassettePlayer(httpx2.BaseTransport):
    """Answers from a recorded cassette; never opens a socket (see the module docstring)."""

    def __init__(self, recording: Path) -> None:
        self.recording = Path(recording)
        file = self.recording / CASSETTE_FILE
        if not file.is_file():
            raise UsageError(f"{self.recording} has no {CASSETTE_FILE}: record it with `uiagent do ... --cassette`")
        self.entries: list[dict[str, Any]] = []
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                self.entries.append(json.loads(line))
            except json.JSONDecodeError:
                raise UsageError(f"{file} line {number} is not valid JSON (truncated?)") from None
        self.used = 0
        self.error: str | None = None

    def attach(self, folder: Path, redactor: Redactor | None = None) -> None:
        """The replayed run writes its own recording; the cassette stays where it is."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            entry = self._next(request)
        except CassetteMismatch as e:
            self.error = str(e)
            log.error("cassette: %s", e)
            return httpx2.Response(400, headers={"x-should-retry": "false"}, request=request,
                                   json={"type": "error", "error": {"type": "cassette_mismatch",
                                                                    "message": f"cassette: {e}"}})
        stored = entry["response"]
        return httpx2.Response(int(stored["status"]), headers=stored.get("headers", {}),
                               content=str(stored.get("body", "")).encode(), request=request)

    def _next(self, request: httpx2.Request) -> dict[str, Any]:
        n = self.used + 1
        if self.used >= len(self.entries):
            raise CassetteMismatch(f"request {n} ({request.method} {request.url.path}) was not recorded: the "
                                   f"cassette holds {len(self.entries)} request(s)")
        entry = self.entries[self.used]
        self.used += 1
        stored = entry["request"]
        if (request.method, request.url.path) != (stored["method"], stored["path"]):
            raise CassetteMismatch(f"request {n} is {request.method} {request.url.path}, the recording has "
                                   f"{stored['method']} {stored['path']}")
        seen: dict[str, bytes] = {}
        body = normalise(_body(request.read()), seen=seen)
        where = first_difference(stored["body"], body, lambda old, new: self._images_close(old, new, seen))
        if where is not None:
            raise CassetteMismatch(f"request {n} differs from the recording at {where}")
        return entry

    def _images_close(self, old: str, new: str, seen: dict[str, bytes]) -> bool:
        """A screenshot with another hash still matches if it shows nearly the same pixels."""
        digest = old.removeprefix("image:")
        if not IMAGE_DIGEST.fullmatch(digest):   # a cassette is untrusted: its hash names no path
            return False
        stored = next((self.recording / IMAGES_DIR).glob(f"{digest}.*"), None)
        raw = seen.get(new.removeprefix("image:"))
        if stored is None or raw is None or stored.is_symlink() or not stored.is_file():
            return False
        try:
            return image_close(stored.read_bytes(), raw)
        except OSError:
            return False


def first_difference(old: Any, new: Any, images_equal: Any = None, path: str = "body") -> str | None:
    """The first place where two normalised bodies differ, as `path: old != new`, else None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            if key not in new or key not in old:
                return f"{path}.{key}: {'missing in the new request' if key not in new else 'not in the recording'}"
            found = first_difference(old[key], new[key], images_equal, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        for i, (a, b) in enumerate(zip(old, new)):
            found = first_difference(a, b, images_equal, f"{path}[{i}]")
            if found:
                return found
        if len(old) != len(new):
            return f"{path}: {len(old)} item(s) in the recording, {len(new)} now"
        return None
    if old == new:
        return None
    if isinstance(old, str) and isinstance(new, str) and old.startswith("image:") and new.startswith("image:"):
        if images_equal is not None and images_equal(old, new):
            return None
        return f"{path}: another screenshot ({old} recorded, {new} now; over 1% of its pixels differ)"
    return f"{path}: {_short(old)} != {_short(new)}"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def image_close(a: bytes, b: bytes, tolerance: float = PIXEL_TOLERANCE) -> bool:
    """Whether two encoded images show nearly the same pixels (same size, few pixels changed)."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(a)) as ia, Image.open(io.BytesIO(b)) as ib:
        if ia.size != ib.size:
            return False
        x = np.asarray(ia.convert("L"), dtype=np.int16)
        y = np.asarray(ib.convert("L"), dtype=np.int16)
    return float((np.abs(x - y) > 24).mean()) <= tolerance


Cassette = CassetteRecorder | CassettePlayer  # what a run attaches to its recording folder
