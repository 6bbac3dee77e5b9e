"""Bounds on what a model sends: the size of one answer and the number of actions in one turn.

An answer is counted as its HTTP body arrives (`bound_answers`, an httpx2 response hook that wraps
the body stream), so a 100 MB answer is refused after its first megabyte: it never reaches the
parser, the recording or the next request. A gzip or deflate answer counts by its decoded size
(a compression bomb is refused as early); another encoding, or one applied twice, is refused. The same stream stops a slow body at the run's
deadline. Typed text has its own bound (`actions.models.Type`). Over a bound is a ProviderError
(exit 4) whose message says which bound and how to raise it, never the answer itself.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from actions.errors import BudgetExceeded, ProviderError
from agent.deadline import Deadline
from agent.settings import Settings

if TYPE_CHECKING:
    import httpx2

DEFAULT_MAX_ANSWER_BYTES: int = Settings.model_fields["max_answer_bytes"].default
DEFAULT_MAX_ACTIONS: int = Settings.model_fields["max_actions_per_turn"].default


def _size(n: int) -> str:
    return f"{n / 1_000_000:g} MB" if n >= 100_000 else f"{n:,} bytes"


def too_large(provider: str, url: str, limit: int, declared: int | None = None) -> ProviderError:
    said = f" (it declared {_size(declared)})" if declared is not None else ""
    return ProviderError(f"{provider}: the answer from {url} is larger than {_size(limit)}{said}, refused "
                         "unread: raise max_answer_bytes in [tool.uiagent] if that is expected")


def too_many_actions(spec: str, count: int, limit: int) -> ProviderError:
    return ProviderError(f"{spec}: the answer holds {count} actions, more than {limit} in one turn, refused: "
                         "raise max_actions_per_turn in [tool.uiagent] if that is expected")


def bound_answers(provider: str, limit: int, deadline: Deadline | None) -> Callable[[httpx2.Response], None]:
    """An httpx2 `response` event hook: refuses a declared body over `limit`, and wraps the body
    stream so that it stops after `limit` bytes or once `deadline` has passed."""
    import httpx2  # loaded with the SDK that uses the hook, not by whoever imports the transport

    class BoundedStream(httpx2.SyncByteStream):
        def __init__(self, inner: httpx2.SyncByteStream, url: str, inflate: Any = None) -> None:
            self.inner, self.url, self.inflate = inner, url, inflate

        def __iter__(self) -> Iterator[bytes]:
            seen = 0
            for chunk in self.inner:
                seen += len(chunk) if self.inflate is None else _inflated(self.inflate, chunk, limit + 1 - seen)
                if seen > limit:
                    raise too_large(provider, self.url, limit)
                if deadline is not None and deadline.expired():
                    raise BudgetExceeded(f"timed out after {deadline.describe()}: the answer from {self.url} "
                                         f"was still arriving ({_size(seen)} so far)")
                yield chunk

        def close(self) -> None:
            self.inner.close()

    def hook(response: httpx2.Response) -> None:
        url = str(response.request.url.copy_with(query=None))
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise too_large(provider, url, limit, int(declared))
        encodings = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",")]
        encodings = [e for e in encodings if e and e != "identity"]
        if len(encodings) > 1 or (encodings and encodings[0] not in INFLATED):
            response.close()
            raise ProviderError(f"{provider}: the answer from {url} is encoded as {', '.join(encodings)}, refused "
                                "unread: only gzip or deflate, once, can be bounded as it arrives")
        if isinstance(response.stream, httpx2.SyncByteStream):
            # A compressed answer is bounded by its decoded size: 100 KB of gzip can hold 100 MB.
            inflate = zlib.decompressobj(zlib.MAX_WBITS | 32) if encodings else None
            response.stream = BoundedStream(response.stream, url, inflate)

    return hook


INFLATED = ("gzip", "x-gzip", "deflate")  # what zlib decodes (httpx2 decodes the same for the SDK)


def _inflated(inflate: Any, chunk: bytes, room: int) -> int:
    """How many bytes `chunk` decompresses to, counted up to just past `room` (never more held)."""
    size, data = 0, chunk
    try:
        while data and size <= room:
            size += len(inflate.decompress(data, room + 1 - size))
            data = inflate.unconsumed_tail
    except zlib.error:  # not what it said it is: httpx2's decoder will say so; count the raw bytes
        return len(chunk)
    return size
