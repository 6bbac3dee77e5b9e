"""SDK clients and the edge where their errors become ours.

Planners build their clients with `own_retries=True`: the SDK does not retry, `agent.planners.retry`
does, within the run's deadline (`--timeout`); other users (the pytest judge) keep the SDKs' own
retries. Every client bounds the answers it reads (`agent.planners.limits.bound_answers`). What
still fails leaves `translate` as one `ProviderError` line naming the provider, the URL and the
provider's message.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # each SDK is imported by the client that needs it: an OpenAI run never loads anthropic
    import anthropic
    import openai

from actions.errors import ProviderError, UIAgentError, UsageError
from agent.deadline import Deadline
from agent.planners.limits import DEFAULT_MAX_ANSWER_BYTES, bound_answers

DEFAULT_MAX_RETRIES = 4
DEFAULT_TIMEOUT_S = 120.0
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
ANTHROPIC_DEFAULT_URL = "https://api.anthropic.com"
_KEY_VARS = {"anthropic": "ANTHROPIC_API_KEY", "openai-cua": "OPENAI_API_KEY", "openai": "OPENAI_API_KEY",
             "ui-tars": "OPENAI_API_KEY"}


@dataclass(frozen=True)
class Connection:
    """Where and how to reach a provider. None fields fall back to the SDK's env variables."""

    provider: str
    base_url: str | None = None
    api_key: str | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout: float = DEFAULT_TIMEOUT_S
    transport: Any = None  # an httpx2 transport under the SDK (agent.planners.cassette); None: the SDK's own
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    deadline: Deadline | None = None  # the run's --timeout: no request, retry or answer outlasts it


def _http_kwargs(conn: Connection) -> dict[str, Any]:
    """What the SDK's DefaultHttpxClient gets: the answer bound, and the cassette's transport if any."""
    kwargs: dict[str, Any] = {"event_hooks": {"response": [bound_answers(conn.provider, conn.max_answer_bytes,
                                                                         conn.deadline)]}}
    if conn.transport is not None:
        kwargs["transport"] = conn.transport
    return kwargs


def check_key(conn: Connection) -> str | None:
    """The API key `conn` will use (None: the SDK's own, e.g. ANTHROPIC_AUTH_TOKEN, or none needed);
    UsageError when there is none. Needs no SDK: the CLI asks before the SDK loads."""
    if conn.provider == "anthropic":
        key = conn.api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
            raise UsageError("anthropic: no API key: set ANTHROPIC_API_KEY (or pick another --model)")
        return key
    base_url = conn.base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = conn.api_key or os.environ.get("OPENAI_API_KEY")
    if not key and (base_url is None or "api.openai.com" in base_url):
        raise UsageError(f"{conn.provider}: no API key: set OPENAI_API_KEY, or --base-url for a local "
                         "OpenAI-compatible server")
    return key


def anthropic_client(conn: Connection, *, own_retries: bool = False) -> anthropic.Anthropic:
    """`own_retries`: the SDK sends each request once (the caller retries, `agent.planners.retry`)."""
    import anthropic

    key = check_key(conn)
    return anthropic.Anthropic(api_key=key, base_url=conn.base_url or None,
                               max_retries=0 if own_retries else conn.max_retries, timeout=conn.timeout,
                               http_client=anthropic.DefaultHttpxClient(**_http_kwargs(conn)))


def openai_client(conn: Connection, *, own_retries: bool = False) -> openai.OpenAI:
    """OpenAI or any compatible server. Local servers (a base URL that is not api.openai.com)
    need no key: Ollama and LM Studio want one set but ignore it."""
    import openai

    base_url = conn.base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = check_key(conn) or "not-needed"
    return openai.OpenAI(api_key=key, base_url=base_url, max_retries=0 if own_retries else conn.max_retries,
                         timeout=conn.timeout, http_client=openai.DefaultHttpxClient(**_http_kwargs(conn)))


def client_url(client: Any) -> str:
    return str(getattr(client, "base_url", "")).rstrip("/")


def _looks_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html")) or "<body" in head


def _message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or json.dumps(err)[:200])
        return str(err)[:200]
    if isinstance(body, str) and body.strip():
        return " ".join(body.split())[:200]
    return fallback


def _status_error(provider: str, url: str, e: openai.APIStatusError | anthropic.APIStatusError) -> ProviderError:
    code = e.status_code
    text = e.response.text if e.response is not None else ""
    if _looks_html(text):
        return ProviderError(f"{provider}: {url} answered HTML (HTTP {code}), not the {provider} API: "
                             "check --base-url (OpenAI-compatible servers usually end in /v1)")
    message = _message(e.body, e.message)
    hint = ""
    if code in (401, 403):
        hint = f"; check {_KEY_VARS.get(provider, 'the API key')}"
    elif code == 404:
        hint = "; check the model name and --base-url"
    request_id = getattr(e, "request_id", None)
    rid = f" [request {request_id}]" if request_id else ""
    return ProviderError(f"{provider}: HTTP {code} from {url}: {message}{hint}{rid}")


@contextmanager
def translate_errors(provider: str, url: str, timeout: float | None = None) -> Iterator[None]:
    """Run one SDK call; SDK and decoding errors leave as one ProviderError line."""
    try:
        yield
    except Exception as e:
        translated = translate(provider, url, e, timeout)
        if translated is None:
            raise
        raise translated from None


def translate(provider: str, url: str, e: Exception, timeout: float | None = None) -> UIAgentError | None:
    """`e` (an SDK or decoding error) as our one-line error; None for anything else. A uiagent error
    raised under the SDK (an answer bound, the deadline) comes back as itself."""
    if (own := own_cause(e)) is not None:
        return own
    if isinstance(e, sdk_errors("APITimeoutError")):
        return ProviderError(f"{provider}: no answer from {url} within {timeout or '?'} s, after retries")
    if isinstance(e, sdk_errors("APIConnectionError")):
        cause = e.__cause__ or e
        return ProviderError(f"{provider}: cannot reach {url} ({type(cause).__name__}): check --base-url "
                             "and that the server is running")
    if isinstance(e, sdk_errors("APIStatusError")):
        return _status_error(provider, url, e)  # type: ignore[arg-type]
    if isinstance(e, sdk_errors("APIError")):
        return ProviderError(f"{provider}: bad response from {url}: "
                             f"{_message(e.body, e.message)}")  # type: ignore[attr-defined]
    if isinstance(e, json.JSONDecodeError):
        return ProviderError(f"{provider}: {url} answered invalid JSON ({e.msg} at {e.pos})")
    return None


def own_cause(e: BaseException) -> UIAgentError | None:
    """A uiagent error in `e`'s cause chain (the Anthropic SDK wraps what a response hook raises)."""
    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:
        if isinstance(current, UIAgentError):
            return current
        seen.add(id(current))
        current = current.__cause__
    return None


def sdk_errors(name: str) -> tuple[type[Exception], ...]:
    """The SDKs' exception class `name`, of the SDKs loaded (one that was never imported raised nothing)."""
    return tuple(getattr(sdk, name) for sdk in (sys.modules.get("openai"), sys.modules.get("anthropic"))
                 if sdk is not None)


def unexpected_body(provider: str, url: str, body: object) -> ProviderError:
    """The SDK returned text where a JSON object was expected (an HTML page with status 200)."""
    text = str(body)
    what = "HTML" if _looks_html(text) else "something that is not JSON"
    return ProviderError(f"{provider}: {url} answered {what}, not the {provider} API: check --base-url")
