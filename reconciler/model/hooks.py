"""Container lifecycle hooks (`lifecycle.postStart` / `lifecycle.preStop`) as typed values.
Built by the manifest loader (`manifests.build`), carried on `ContainerRun`s to the executor,
which runs them from the reconciler over the host's connection (`executor.hookrun`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class HookAction(enum.StrEnum):
    EXEC = "exec"
    HTTP_GET = "httpGet"
    SLEEP = "sleep"


@dataclass(frozen=True)
class Handler:
    """One hook handler. `command`: exec's argv (no shell); `port`: httpGet's container port,
    already resolved from a port name; `seconds`: sleep's duration."""

    action: HookAction
    command: tuple[str, ...] = ()
    port: int = 0
    path: str = "/"
    http_headers: tuple[tuple[str, str], ...] = ()
    seconds: int = 0


@dataclass(frozen=True)
class Lifecycle:
    post_start: Handler | None = None
    pre_stop: Handler | None = None


class HookKind(enum.StrEnum):
    POST_START = "postStart"
    PRE_STOP = "preStop"


FAILED_POST_START = "FailedPostStartHook"
FAILED_PRE_STOP = "FailedPreStopHook"
INIT_NOT_DONE = "init containers not done"
"""In the report of an action that left a pod initializing (an init container failed or runs)."""


def noteworthy(report: str) -> bool:
    """Whether a done action's report tells of a hook or an init container that did not go as
    planned (`apply` prints it; the daemon records a Warning event)."""
    return any(word in report for word in (FAILED_POST_START, FAILED_PRE_STOP, INIT_NOT_DONE))


def event_reason(report: str) -> str:
    """The event reason of a noteworthy report: FailedPostStartHook, FailedPreStopHook, or
    Initializing (an init container failed or still runs)."""
    for word in (FAILED_POST_START, FAILED_PRE_STOP):
        if word in report:
            return word
    return "Initializing"
