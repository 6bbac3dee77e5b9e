"""The one exception tree of uiagent.

Every error a user can see is a `UIAgentError` with an exit code from the CLI contract:

    UIAgentError (1)               the task failed or the agent gave up
    ├── TaskFailed (1)
    │   ├── PlannerOutputError      the model's output stayed malformed after re-asks
    │   └── DisplayLost             the X server went away mid-run
    ├── UsageError (2)             bad input: flags, files, key names, a missing display or binary
    │   ├── UnsafeRecording         a recording names a file outside itself, or a non-file
    │   └── DiskFull                the recording could not be written: no space left (in a run: 1)
    ├── Stopped (3)                a guard, the user, the kill switch or a budget stopped the run
    │   ├── GuardStopped
    │   ├── KillSwitchPressed
    │   ├── BudgetExceeded
    │   └── SafetyCheckDeclined     a provider safety check was not confirmed
    └── ProviderError (4)          a model provider failed after retries

Foreign errors (SDK, Xlib, OS) are translated into these at the edge where they happen.
The message is one line that names the problem and, where there is one, the fix.
"""

from __future__ import annotations

import errno


class UIAgentError(Exception):
    """Base of all uiagent errors. `exit_code` is what the CLI exits with."""

    exit_code = 1
    model_calls = 0  # model requests the failing turn had made (set by the planner; the outcome counts them)


class TaskFailed(UIAgentError):
    """The task could not be completed (the agent gave up, or a replay could not verify a step)."""

    exit_code = 1


class UsageError(UIAgentError):
    """Bad input from the user or the environment; nothing was performed."""

    exit_code = 2


class DisplayError(UsageError):
    """No usable X display (DISPLAY unset, unreachable, Xvfb missing)."""


class UnsafeRecording(UsageError):
    """A recording names a file that is not its own (outside its folder, not a regular file,
    not a name the format writes): refused, and nothing outside was opened."""


class Stopped(UIAgentError):
    """The run was stopped on purpose: by a guard, the user, the kill switch or a budget."""

    exit_code = 3


class GuardStopped(Stopped):
    """A guard denied an action and the run could not go on."""


class KillSwitchPressed(Stopped):
    """The kill-switch hotkey or the fail-safe corner stopped execution."""


class BudgetExceeded(Stopped):
    """A step, cost or time budget ran out."""


class InputInterrupted(UIAgentError):
    """Typing stopped part way: the window it was typed into lost the focus (it closed, or another
    window took the focus); the rest was not sent, so it cannot land in another window."""

    exit_code = 1


class ProviderError(UIAgentError):
    """A model provider failed after retries (HTTP error, timeout, unreachable)."""

    exit_code = 4


class PlannerOutputError(TaskFailed):
    """The model kept answering with something that is not a valid action (after re-asks)."""


class SafetyCheckDeclined(Stopped):
    """A provider's safety check (e.g. OpenAI `pending_safety_checks`) was not confirmed by a human."""


class DisplayLost(TaskFailed):
    """The X server of the run went away (killed, crashed) while the run was using it."""


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # the OSError errnos that mean no space is left


class DiskFull(UsageError):
    """The recording folder's file system is full (or over quota): the run cannot record more.
    Before a run starts that is exit 2, like any unwritable --record-dir; mid-run the outcome is
    recorded as `disk full` (status failed, exit 1)."""
