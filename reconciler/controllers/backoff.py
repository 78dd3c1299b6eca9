"""Kubernetes' restartPolicy and crash back-off as pure rules, and the per-container `Record`
of exits and restarts they read. `lifecycle.Restarts` keeps the records and applies the rules;
`get pods` and `/status` read the records back (`records`) for RESTARTS and CrashLoopBackOff.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.executor import podmanspec
from reconciler.model import hoststate

log = logging.getLogger(__name__)

INITIAL_BACKOFF = 10.0
MAX_BACKOFF = 300.0
RESET_AFTER = 600.0
"""A container that ran this long since its last restart starts its back-off afresh."""
CRASH_LOOP = "CrashLoopBackOff"

Key = tuple[str, str, str]  # (namespace, pod, container)


class RestartPolicy(enum.StrEnum):
    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


def policy_of(pod: hoststate.ObservedPod) -> RestartPolicy:
    """The pod's restartPolicy from its label; Always (Kubernetes' default) without one."""
    raw = pod.labels.get(podmanspec.LABEL_RESTART_POLICY, "")
    try:
        return RestartPolicy(raw)
    except ValueError:
        return RestartPolicy.ALWAYS


def wants_restart(policy: str, exit_code: int) -> bool:
    """Whether a container that exited with `exit_code` is started again under `policy`."""
    if policy == RestartPolicy.NEVER:
        return False
    if policy == RestartPolicy.ON_FAILURE:
        return exit_code != 0
    return True


def delay(restarts: int) -> float:
    """Seconds to wait before the next restart, after `restarts` restarts since the back-off
    was last reset: 0, then 10 doubling up to 300."""
    if restarts <= 0:
        return 0.0
    return min(MAX_BACKOFF, INITIAL_BACKOFF * float(2 ** min(restarts - 1, 16)))


def format_delay(seconds: float) -> str:
    """As Kubernetes words it: 10s, 40s, 5m0s."""
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"


@dataclass(frozen=True)
class Record:
    """What is known about one container's exits and restarts (times by the local clock)."""

    host: str
    namespace: str
    pod: str
    container: str
    podman_id: str
    restarts: int = 0  # restarts made (RESTARTS)
    streak: int = 0  # restarts since the back-off was last reset
    started: float = 0.0  # when it was last restarted, 0 never
    exited: float = 0.0  # when its last exit was noticed, 0 never
    exit_code: int = 0
    due_at: float | None = None  # a restart is wanted then
    delay: float = 0.0  # the back-off of that restart
    cause: str = ""  # "exited with code 1", "failed its liveness probe (...)"
    liveness: bool = False  # the wanted restart is for a failed liveness probe
    confirmed: bool = False  # `due` saw that the pod's policy wants the restart
    in_flight_until: float = 0.0
    own_kill_until: float = 0.0  # the next died event before then is our restart's own stop

    @property
    def key(self) -> Key:
        return (self.namespace, self.pod, self.container)

    @property
    def backing_off(self) -> bool:
        return self.due_at is not None and self.delay > 0 and self.confirmed


def records(rows: Iterable[Mapping[str, Any]]) -> list[Record]:
    """Records as a `RecordStore` returned them; rows not understood (another version) left out."""
    found = []
    for row in rows:
        try:
            found.append(Record(**row))
        except TypeError:
            log.warning("restart record %r not understood; dropped", row)
    return found


class RecordStore(Protocol):
    """Where records survive a daemon restart (`state.store.Store` implements it)."""

    def restart_records(self) -> list[dict[str, Any]]: ...

    def save_restart_records(
        self, records: Sequence[Mapping[str, Any]], forget: Sequence[Key]
    ) -> None: ...
