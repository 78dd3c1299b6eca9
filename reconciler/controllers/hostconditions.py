"""Host conditions, as Kubernetes' node conditions: Ready, Unknown (HostNotResponding) and
NotReady (HostLost, then Fencing), the time each changed and the host's last answer; `judge` (a
check finished) and `tick` (time passed) are the pure transitions `hosthealth.Monitor` applies.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SILENT_AFTER = 3.0
"""A Ready host whose check has not answered for this long is Unknown (a cut link never
refuses: the check just hangs until its timeout)."""


class Status(enum.StrEnum):
    READY = "Ready"
    UNKNOWN = "Unknown"
    NOT_READY = "NotReady"


class Reason(enum.StrEnum):
    HOST_READY = "HostReady"
    NOT_RESPONDING = "HostNotResponding"  # Unknown: within the grace period
    LOST = "HostLost"  # NotReady: past the grace period, its Deployment pods re-placed
    FENCING = "Fencing"  # NotReady: answers again; its stale copies are being removed


@dataclass(frozen=True)
class Condition:
    """One host's condition: `since` is its lastTransitionTime (status changed), `last_ok` the
    last time the host answered (its heartbeat), both epoch seconds by this machine's clock."""

    host: str
    status: Status
    reason: Reason
    message: str
    since: float
    last_ok: float

    @property
    def answering(self) -> bool:
        """The host answers (Ready, or returned and being fenced): observe it."""
        return self.status is Status.READY or self.reason is Reason.FENCING

    @property
    def lost(self) -> bool:
        """Past the grace period and not yet fenced: its Deployment pods run elsewhere."""
        return self.status is Status.NOT_READY

    def record(self) -> dict[str, Any]:
        return {
            "host": self.host, "status": str(self.status), "reason": str(self.reason),
            "message": self.message, "since": self.since, "lastHeartbeat": self.last_ok,
        }  # fmt: skip

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> Condition | None:
        """A saved record back; None for one this version cannot read."""
        try:
            return cls(
                host=str(raw["host"]), status=Status(raw["status"]), reason=Reason(raw["reason"]),
                message=str(raw.get("message", "")), since=float(raw["since"]),
                last_ok=float(raw["lastHeartbeat"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            return None


def judge(previous: Condition | None, host: str, error: str | None, now: float) -> Condition:
    """The condition after a check of `host` finished at `now`: `error` None when it answered."""
    if error is None:
        if previous is None or previous.status is Status.UNKNOWN:
            return Condition(host, Status.READY, Reason.HOST_READY, "", now, now)
        if previous.status is Status.NOT_READY and previous.reason is Reason.LOST:
            message = "answers again: its copies of pods that run elsewhere are being removed"
            return dataclasses.replace(previous, reason=Reason.FENCING, message=message,
                                       last_ok=now)  # fmt: skip
        return dataclasses.replace(previous, last_ok=now)
    if previous is None:
        return Condition(host, Status.UNKNOWN, Reason.NOT_RESPONDING, error, now, now)
    if previous.status is Status.READY:
        return Condition(host, Status.UNKNOWN, Reason.NOT_RESPONDING, error, now, previous.last_ok)
    if previous.reason is Reason.FENCING:  # lost again before it was fenced
        return dataclasses.replace(previous, reason=Reason.LOST, message=error)
    return dataclasses.replace(previous, message=error)


def tick(condition: Condition, now: float, grace: float, excused: float = 0.0) -> Condition:
    """The condition after time passed without a finished check: silent past SILENT_AFTER is
    Unknown, without an answer for `grace` seconds NotReady (since the grace ran out).
    `excused`: seconds since its last answer during which this process was starved, not
    counted as silence."""
    silent = now - condition.last_ok - max(0.0, excused)
    if condition.status is Status.READY and silent >= SILENT_AFTER:
        message = f"no answer for {silent:.0f}s"
        return Condition(condition.host, Status.UNKNOWN, Reason.NOT_RESPONDING, message, now,
                         condition.last_ok)  # fmt: skip
    if condition.status is Status.UNKNOWN and silent >= grace:
        message = f"no answer for {grace:g}s (grace period): its Deployment pods are re-placed"
        if condition.message:
            message += f"; last error: {condition.message}"
        return Condition(condition.host, Status.NOT_READY, Reason.LOST, message,
                         now - silent + grace, condition.last_ok)  # fmt: skip
    return condition


def fenced(condition: Condition, now: float) -> Condition:
    """A fencing host whose stale copies are gone: Ready."""
    if condition.reason is not Reason.FENCING:
        return condition
    return Condition(condition.host, Status.READY, Reason.HOST_READY, "", now, condition.last_ok)


def describe(condition: Condition, grace: float) -> str:
    """`host h1: Unknown (HostNotResponding) ...`, for errors and logs."""
    text = f"host {condition.host}: {condition.status} ({condition.reason})"
    if condition.status is Status.UNKNOWN:
        text += f", pods kept for the {grace:g}s grace period"
    return f"{text}: {condition.message}" if condition.message else text
