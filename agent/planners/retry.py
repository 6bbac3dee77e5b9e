"""The retry loop of model requests, inside the run's deadline (`--timeout`).

Planners' SDK clients send each request once (`transport.*_client(own_retries=True)`);
`send_with_retries` retries what the SDKs would (connection errors, timeouts, HTTP 408, 409, 429,
5xx and 529, or whatever `x-should-retry` says), waiting what the server asks (`retry-after-ms`,
`retry-after` in seconds or as a date) or backing off (0.5 s doubling to 8 s, less up to 25%
jitter). Each request gets at most what remains of the deadline as its connect and read timeout.

- A wait the deadline cannot hold ends the turn at once: ProviderError (exit 4) saying how long the
  server asked for and how much of --timeout remains. Without a deadline, server waits over
  `MAX_RETRY_AFTER_S` are refused the same way.
- A request the deadline cut short is BudgetExceeded (exit 3): the run ran out of --timeout.
- The live status shows each request and each wait with its countdown (`agent.status`).
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from actions.errors import BudgetExceeded, ProviderError, UIAgentError
from agent import status
from agent.deadline import Deadline
from agent.planners.transport import own_cause, sdk_errors, translate

log = logging.getLogger(__name__)
T = TypeVar("T")

INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 120.0
RETRY_STATUSES = frozenset({408, 409, 429})


def retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds the server asks to wait (`retry-after-ms`, then `retry-after` as seconds or an HTTP
    date); None when it asks nothing readable."""
    if not headers:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds):
            return seconds
        return math.inf if seconds > 0 else None
    date = headers.get("retry-after")
    parsed = email.utils.parsedate_tz(date) if date else None
    if parsed is None:
        return None
    return float(email.utils.mktime_tz(parsed) - (time.time() if now is None else now))


def backoff(retry: int, jitter: float) -> float:
    """The n-th retry's wait (0-based) when the server asks for none; `jitter` in [0, 1)."""
    return min(INITIAL_BACKOFF_S * 2.0 ** min(retry, 30), MAX_BACKOFF_S) * (1 - 0.25 * jitter)


@dataclass(frozen=True)
class Failure:
    """What one failed request means for the retry loop."""

    retry: bool
    asked_s: float | None = None   # the server's retry-after, if it gave one
    label: str = ""                # "HTTP 429", "a timeout", ... for the status line


def classify(e: Exception) -> Failure:
    """Whether the SDKs would retry `e`, and what the server asked."""
    if isinstance(e, sdk_errors("APITimeoutError")):
        return Failure(retry=True, label="no answer")
    if isinstance(e, sdk_errors("APIConnectionError")):
        return Failure(retry=True, label="cannot connect")
    if isinstance(e, sdk_errors("APIStatusError")):
        response: Any = getattr(e, "response", None)
        headers = response.headers if response is not None else {}
        code = int(getattr(e, "status_code", 0))
        should = headers.get("x-should-retry")
        retry = should == "true" if should in ("true", "false") else (code in RETRY_STATUSES or code >= 500)
        return Failure(retry=retry, asked_s=retry_after(headers), label=f"HTTP {code}")
    return Failure(retry=False)


@dataclass
class Retrier:
    """Sends one model request, retrying within `deadline`; `on_request` counts each request sent."""

    provider: str
    spec: str
    url: str
    deadline: Deadline
    max_retries: int
    timeout: float
    on_request: Callable[[], None] = lambda: None
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)

    def send(self, send: Callable[..., T]) -> T:
        """`send(timeout=..., extra_headers=...)` (an SDK `create`), retried; our error if it fails."""
        for attempt in range(self.max_retries + 1):
            budget = self.deadline.cut(self.timeout)
            if budget <= 0:
                raise BudgetExceeded(f"timed out after {self.deadline.describe()}: no time left for a "
                                     f"{self.spec} request")
            if attempt:   # the first request shows as the planner's "thinking..." (with its elapsed time)
                status.show(f"{self.spec}: thinking... (retry {attempt} of {self.max_retries})")
            self.on_request()
            try:
                answer = send(timeout=budget, extra_headers={"x-stainless-retry-count": str(attempt)})
            except Exception as e:  # SDK errors are sorted below; anything else leaves as it came
                self._after_failure(e, attempt, budget)
                continue
            return answer
        raise AssertionError("unreachable")

    def _after_failure(self, e: Exception, attempt: int, budget: float) -> None:
        """Raise our error for `e`, or wait for the next attempt."""
        own = own_cause(e)
        if own is not None:
            raise own from None
        error = translate(self.provider, self.url, e, budget)
        if error is None:
            raise e
        failure = classify(e)
        if failure.label == "no answer" and budget < self.timeout:
            raise BudgetExceeded(f"timed out after {self.deadline.describe()}: no answer from {self.url} within "
                                 f"the {budget:.1f} s that remained") from None
        if not failure.retry or attempt >= self.max_retries:
            raise error from None
        asked = failure.asked_s if failure.asked_s is not None and failure.asked_s > 0 else None
        wait = asked if asked is not None else backoff(attempt, self.jitter())
        self._check_wait(error, wait, asked is not None)
        log.info("%s: %s, retrying in %.1f s (%d of %d)", self.spec, failure.label, wait, attempt + 1,
                 self.max_retries)
        status.show(f"{self.spec}: {failure.label}, retrying in {{left}} ({attempt + 1} of {self.max_retries})",
                    until=time.monotonic() + wait)
        self.sleep(wait)

    def _check_wait(self, error: UIAgentError, wait: float, asked: bool) -> None:
        left = self.deadline.remaining()
        if asked and math.isinf(left) and wait > MAX_RETRY_AFTER_S:
            raise ProviderError(f"{error}; the model server asked to retry after {wait:.0f} s, longer than "
                                f"uiagent waits ({MAX_RETRY_AFTER_S:g} s)") from None
        if wait >= left:
            said = f"the model server asked to retry after {wait:.0f} s" if asked else f"the next retry is in {wait:.1f} s"
            raise ProviderError(f"{error}; {said}; {left:.0f} s of --timeout remain") from None
