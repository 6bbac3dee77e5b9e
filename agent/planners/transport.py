"""SDK clients and the edge where their errors become ours.

Clients retry 429/5xx/529/timeouts themselves (exponential backoff, `retry-after` honoured);
`max_retries` and `timeout` are set here. What still fails afterwards leaves `translate_errors`
as one `ProviderError` line naming the provider, the URL and the provider's message.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # each SDK is imported by the client that needs it: an OpenAI run never loads anthropic
    import anthropic
    import openai

from actions.errors import ProviderError, UsageError
from agent import status

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


def anthropic_client(conn: Connection) -> anthropic.Anthropic:
    import anthropic

    key = check_key(conn)
    http = anthropic.DefaultHttpxClient(transport=conn.transport) if conn.transport is not None else None
    return _show_retries(anthropic.Anthropic(api_key=key, base_url=conn.base_url or None,
                                             max_retries=conn.max_retries, timeout=conn.timeout, http_client=http))


def openai_client(conn: Connection) -> openai.OpenAI:
    """OpenAI or any compatible server. Local servers (a base URL that is not api.openai.com)
    need no key: Ollama and LM Studio want one set but ignore it."""
    import openai

    base_url = conn.base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = check_key(conn) or "not-needed"
    http = openai.DefaultHttpxClient(transport=conn.transport) if conn.transport is not None else None
    return _show_retries(openai.OpenAI(api_key=key, base_url=base_url, max_retries=conn.max_retries,
                                       timeout=conn.timeout, http_client=http))


C = TypeVar("C")


def _show_retries(client: C) -> C:
    """The SDK's wait before a retry shows on the live status with its countdown
    (`retrying in 2s (HTTP 429)`). Both SDKs (one generator) compute the wait in
    `_calculate_retry_timeout`, called from `_sleep_for_retry` just before it sleeps."""
    sdk: Any = client
    calculate, sleep = sdk._calculate_retry_timeout, sdk._sleep_for_retry
    cause = ["no answer"]

    def sleep_for_retry(*, response: Any, **kwargs: Any) -> None:
        cause[0] = f"HTTP {response.status_code}" if response is not None else "no answer"
        sleep(response=response, **kwargs)

    def retry_timeout(*args: Any, **kwargs: Any) -> float:
        seconds: float = calculate(*args, **kwargs)
        status.show(f"retrying in {{left}} ({cause[0]})", until=time.monotonic() + seconds)
        return seconds

    sdk._sleep_for_retry, sdk._calculate_retry_timeout = sleep_for_retry, retry_timeout
    return client


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
    except _sdk_errors("APITimeoutError"):
        raise ProviderError(f"{provider}: no answer from {url} within {timeout or '?'} s, after retries") from None
    except _sdk_errors("APIConnectionError") as e:
        cause = e.__cause__ or e
        raise ProviderError(f"{provider}: cannot reach {url} ({type(cause).__name__}): check --base-url "
                            "and that the server is running") from None
    except _sdk_errors("APIStatusError") as e:
        raise _status_error(provider, url, e) from None  # type: ignore[arg-type]
    except _sdk_errors("APIError") as e:
        raise ProviderError(f"{provider}: bad response from {url}: "
                            f"{_message(e.body, e.message)}") from None  # type: ignore[attr-defined]
    except json.JSONDecodeError as e:
        raise ProviderError(f"{provider}: {url} answered invalid JSON ({e.msg} at {e.pos})") from None


def _sdk_errors(name: str) -> tuple[type[Exception], ...]:
    """The SDKs' exception class `name`, of the SDKs loaded (one that was never imported raised nothing)."""
    return tuple(getattr(sdk, name) for sdk in (sys.modules.get("openai"), sys.modules.get("anthropic"))
                 if sdk is not None)


def unexpected_body(provider: str, url: str, body: object) -> ProviderError:
    """The SDK returned text where a JSON object was expected (an HTML page with status 200)."""
    text = str(body)
    what = "HTML" if _looks_html(text) else "something that is not JSON"
    return ProviderError(f"{provider}: {url} answered {what}, not the {provider} API: check --base-url")
