"""The deadline arithmetic and the retry waits, with a fake clock (no servers, no sleeping)."""

from __future__ import annotations

import email.utils
import math

import pytest

from agent.deadline import Deadline
from agent.planners.retry import MAX_BACKOFF_S, backoff, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_remaining_counts_down_from_the_start_and_stops_at_zero() -> None:
    clock = Clock()
    deadline = Deadline(20, clock=clock).start()
    clock.now += 2.5
    assert deadline.remaining() == 17.5 and not deadline.expired() and deadline.at == 120.0
    clock.now += 17.5
    assert deadline.remaining() == 0.0 and deadline.expired()
    clock.now += 5
    assert deadline.remaining() == 0.0


def test_a_second_start_keeps_the_first() -> None:
    clock = Clock()
    deadline = Deadline(10, clock=clock).start()
    clock.now += 4
    deadline.start()
    assert deadline.remaining() == 6


def test_before_its_start_the_whole_budget_remains() -> None:
    clock = Clock()
    deadline = Deadline(10, clock=clock)
    clock.now += 50
    assert deadline.remaining() == 10 and deadline.started_at is None


def test_a_request_gets_at_most_what_remains() -> None:
    clock = Clock()
    deadline = Deadline(20, clock=clock).start()
    assert deadline.cut(120) == 20 and deadline.limits(120)
    assert deadline.cut(5) == 5 and not deadline.limits(5)
    clock.now += 18
    assert deadline.cut(120) == 2
    clock.now += 3
    assert deadline.cut(120) == 0


def test_no_deadline_never_expires() -> None:
    deadline = Deadline(None).start()
    assert deadline.remaining() == math.inf and deadline.cut(120) == 120 and not deadline.expired()
    assert deadline.describe() == "no --timeout" and Deadline(20).describe() == "20 s (--timeout)"


@pytest.mark.parametrize("headers, seconds", [
    ({"retry-after": "3600"}, 3600.0),
    ({"retry-after": "2"}, 2.0),
    ({"retry-after": "1.5"}, 1.5),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),   # milliseconds win
    ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),   # unreadable ms: the seconds
    ({"retry-after": "1e999"}, math.inf),
    ({"retry-after": "later"}, None),
    ({}, None),
    (None, None),
])
def test_retry_after(headers: dict[str, str] | None, seconds: float | None) -> None:
    assert retry_after(headers) == seconds


def test_retry_after_as_an_http_date() -> None:
    date = email.utils.formatdate(1_000_000_060, usegmt=True)
    assert retry_after({"retry-after": date}, now=1_000_000_000) == 60.0


def test_backoff_doubles_to_its_cap_less_the_jitter() -> None:
    assert [backoff(n, 0.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff(0, 0.999) == pytest.approx(0.5 * 0.75, rel=1e-3)
    assert backoff(10_000, 0.0) == MAX_BACKOFF_S
