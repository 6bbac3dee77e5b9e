"""Acting in step with the app: is the target ready before an action, did typed text arrive after.

The executor asks a `Readiness` (the desktop version of Playwright's auto-wait) before it performs
a pointer action or a Return, and to check typed text afterwards. The real one lives in
`agent.perception.actionability` (pixels and accessibility; actions never imports agent); the
executor's default, `NoReadiness`, checks nothing. `FakeReadiness` scripts answers for tests.

    expect(frame, latest=None) -> the frame the next action was planned on (its target must still look
                   so), and a grab taken just now if the caller has one (spares a grab)
    before(action) -> None when the action may go ahead, else why not (after waiting its deadline)
    after(action, secret=False) -> Check: did the effect arrive? (`ok` None: could not be checked,
                   `note` says why); `secret`: the typed text holds a secret, never read off the screen
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from actions.desktop.base import Screenshot
from actions.models import Action


@dataclass(frozen=True)
class Check:
    """The read-back of one action: `ok` True/False, or None when it could not be checked."""

    ok: bool | None = None
    note: str | None = None


UNCHECKED = Check()


@runtime_checkable
class Readiness(Protocol):
    def expect(self, frame: Screenshot, latest: Screenshot | None = None) -> None: ...
    def before(self, action: Action) -> str | None: ...
    def after(self, action: Action, secret: bool = False) -> Check: ...


class NoReadiness:
    """Checks nothing: every action may go ahead, nothing is read back."""

    def expect(self, frame: Screenshot, latest: Screenshot | None = None) -> None:
        pass

    def before(self, action: Action) -> str | None:
        return None

    def after(self, action: Action, secret: bool = False) -> Check:
        return UNCHECKED


@dataclass
class FakeReadiness:
    """Scripted answers for tests: `blocked(action)` -> reason, `check(action)` -> Check; calls recorded."""

    blocked: Callable[[Action], str | None] = lambda action: None
    check: Callable[[Action], Check] = lambda action: UNCHECKED
    calls: list[tuple[str, str]] = field(default_factory=list)

    def expect(self, frame: Screenshot, latest: Screenshot | None = None) -> None:
        self.calls.append(("expect", f"{frame.size[0]}x{frame.size[1]}"))

    def before(self, action: Action) -> str | None:
        self.calls.append(("before", action.kind))
        return self.blocked(action)

    def after(self, action: Action, secret: bool = False) -> Check:
        self.calls.append(("after", action.kind))
        return self.check(action)
