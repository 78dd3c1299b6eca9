"""The pod lifecycle controller's restart half: which stopped containers are started again, when
(Kubernetes' restartPolicy with crash back-off), and the restart counts `get pods` shows.

The executor streams container exits into `Restarts.on_exit` (its threads), the prober reports
liveness failures into `liveness_failed`; the daemon asks `due(observations, now)` for RESTART
actions, applies them and reports each result to `restarted`. Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.controllers import backoff
from reconciler.executor import observed
from reconciler.model import hoststate

log = logging.getLogger(__name__)

STALE_GRACE = 15.0
"""Seconds an observation may lag behind what this registry knows (an exit, a restart)."""
IN_FLIGHT = 60.0
"""Seconds a handed-out RESTART is not handed out again while its result is awaited."""
LIVENESS_CAUSE = "failed its liveness probe"  # in a RESTART's reason: the event is Killing


@dataclass(frozen=True)
class Waiting:
    """A container waiting out its back-off."""

    key: tuple[str, str]  # (namespace, pod)
    container: str
    due_at: float
    message: str


@dataclass(frozen=True)
class Verdicts:
    restarts: tuple[hoststate.Action, ...] = ()
    waiting: tuple[Waiting, ...] = ()
    next_due: float | None = None  # seconds until the earliest waiting one is due


class Restarts:
    """The thread-safe registry of exits, back-offs and restart counts; see the module
    docstring. `close()` stops its timer."""

    def __init__(
        self, clock: Callable[[], float] = time.time, store: backoff.RecordStore | None = None
    ) -> None:
        self._clock = clock
        self._store = store
        self._lock = threading.Lock()
        self._records: dict[backoff.Key, backoff.Record] = {}
        self._callbacks: list[Callable[[], None]] = []
        self._timer: threading.Timer | None = None
        self._timer_at = 0.0
        self._closed = False
        for record in backoff.records(store.restart_records() if store is not None else ()):
            self._records[record.key] = dataclasses.replace(record, in_flight_until=0.0)

    # ----- inputs --------------------------------------------------------------------------

    def on_due(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from another thread) whenever a restart becomes due."""
        with self._lock:
            self._callbacks.append(callback)

    def on_exit(self, exit: hoststate.ContainerExit) -> None:
        """A managed container stopped (the executor's exit stream): its restart becomes due
        now or after its back-off, if its pod's policy wants it (`due` decides)."""
        key = (exit.namespace, exit.name, exit.container)
        now = self._clock()
        with self._lock:
            record = self._current(key, exit.host, exit.podman_id)
            if now < record.own_kill_until:  # a liveness restart stopped it
                self._records[key] = dataclasses.replace(record, own_kill_until=0.0)
                return
            record = self._records[key] = self._exit(record, exit.exit_code, now)
        log.debug("%s/%s/%s exited (%d): due in %.0fs", *key, exit.exit_code, record.delay)
        self._schedule(record.due_at or now, now)

    def liveness_failed(  # noqa: PLR0917 (the prober's callback signature)
        self, host: str, namespace: str, pod: str, container: str, podman_id: str, message: str
    ) -> None:
        """The container failed its liveness probe: it is restarted (stopped and started) with
        the same back-off as a crash, unless the pod's policy is Never."""
        key = (namespace, pod, container)
        now = self._clock()
        with self._lock:
            record = self._current(key, host, podman_id)
            if record.due_at is not None:
                return  # a restart is already wanted
            record = self._exit(record, 137, now)  # Kubernetes kills it, then restarts it
            cause = f"{LIVENESS_CAUSE} ({message})"
            record = dataclasses.replace(record, liveness=True, cause=cause)
            self._records[key] = record
        self._schedule(record.due_at or now, now)

    def restarted(self, result: hoststate.ActionResult) -> None:
        """Record the outcome of a RESTART from `due`: done (count + 1), failed (counted as a
        crash: the next try waits its back-off) or skipped (tried again when next due)."""
        action = result.action
        key = (action.namespace, action.name, action.container)
        now = self._clock()
        with self._lock:
            record = self._records.get(key)
            if record is None:
                return
            if result.outcome is hoststate.Outcome.SKIPPED:
                record = dataclasses.replace(record, in_flight_until=0.0)
            elif result.outcome is hoststate.Outcome.DONE:
                record = dataclasses.replace(
                    record, restarts=record.restarts + 1, streak=record.streak + 1, started=now,
                    due_at=None, delay=0.0, cause="", liveness=False, in_flight_until=0.0,
                )  # fmt: skip
            else:
                streak = record.streak + 1
                delay = backoff.delay(streak)
                record = dataclasses.replace(
                    record, restarts=record.restarts + 1, streak=streak, due_at=now + delay,
                    delay=delay, cause="could not be restarted", in_flight_until=0.0,
                )  # fmt: skip
            self._records[key] = record
            self._save([record], [])
        if record.due_at is not None:
            self._schedule(record.due_at, now)

    # ----- verdicts ------------------------------------------------------------------------

    def due(self, observations: Mapping[str, hoststate.HostObservation], now: float) -> Verdicts:
        """The RESTART actions due now and the containers still backing off, for every managed
        pod on a reachable host. A handed-out action is not handed out again until its result
        comes back to `restarted` (or IN_FLIGHT seconds passed)."""
        actions: list[hoststate.Action] = []
        waiting: list[Waiting] = []
        with self._lock:
            before = dict(self._records)
            seen: set[backoff.Key] = set()
            for observation in observations.values():
                if not observation.reachable:
                    seen.update(k for k, r in self._records.items() if r.host == observation.host)
                    continue
                for pod in observation.pods:
                    if pod.labels.get(hoststate.MANAGED_BY) != hoststate.MANAGER:
                        continue
                    for container in pod.containers:
                        key = (pod.namespace, pod.name, container.name)
                        seen.add(key)
                        verdict = self._judge(pod, container, now)
                        if isinstance(verdict, hoststate.Action):
                            actions.append(verdict)
                        elif verdict is not None:
                            waiting.append(verdict)
            observed_hosts = {o.host for o in observations.values()}
            forget = [
                k for k, r in self._records.items() if r.host in observed_hosts and k not in seen
            ]
            for key in forget:
                del self._records[key]
            changed = [r for k, r in self._records.items() if before.get(k) != r]
            self._save(changed, [k for k in before if k not in self._records])
        next_due = min((w.due_at for w in waiting), default=None)
        return Verdicts(
            tuple(actions), tuple(waiting), None if next_due is None else max(0.0, next_due - now)
        )

    def _judge(
        self, pod: hoststate.ObservedPod, container: hoststate.ObservedContainer, now: float
    ) -> hoststate.Action | Waiting | None:
        """One container's verdict; updates its record (the lock is held)."""
        key = (pod.namespace, pod.name, container.name)
        record = self._records.get(key)
        if record is not None and record.podman_id != container.podman_id:
            del self._records[key]  # a new container (the pod was replaced): a fresh start
            record = None
        policy = backoff.policy_of(pod)
        state = container.state
        if state in observed.RUNNING_STATES or state in observed.PENDING_STATES:
            if record is None or record.due_at is None:
                return None
            stale = not record.liveness and now - record.exited < STALE_GRACE
            if policy == backoff.RestartPolicy.NEVER or not (record.liveness or stale):
                self._records[key] = dataclasses.replace(record, due_at=None, cause="", delay=0.0)
                return None  # started by someone else meanwhile, or Never
        elif state in observed.DONE_STATES:
            if not backoff.wants_restart(policy, container.exit_code):
                if record is not None and record.due_at is not None:
                    self._records[key] = dataclasses.replace(record, due_at=None, confirmed=False)
                return None
            if record is None or record.due_at is None:
                if (
                    record is not None
                    and record.started >= record.exited
                    and now - record.started < STALE_GRACE
                ):
                    return None  # restarted a moment ago: this observation predates it
                record = self._current(key, pod.host, container.podman_id)
                record = self._exit(record, container.exit_code, now)
        else:
            return None  # removing, unknown: not ours to judge
        due_at = record.due_at
        assert due_at is not None
        record = dataclasses.replace(record, confirmed=True)
        self._records[key] = record
        if record.in_flight_until > now:
            return None
        if due_at <= now:
            kill = now + IN_FLIGHT if state in observed.RUNNING_STATES else 0.0
            self._records[key] = dataclasses.replace(
                record, in_flight_until=now + IN_FLIGHT, own_kill_until=kill
            )
            reason = (
                f"container {container.name} {record.cause}: restart {record.restarts + 1} "
                f"(back-off {backoff.format_delay(record.delay)})"
            )
            return hoststate.Action(
                hoststate.ActionKind.RESTART, pod.host, pod.namespace, pod.name,
                observed=pod, reason=reason, container=container.name,
            )  # fmt: skip
        delay = backoff.format_delay(record.delay)
        message = f"back-off {delay} restarting failed container {key[2]}"
        return Waiting(pod.key, container.name, due_at, message)

    # ----- queries -------------------------------------------------------------------------

    def restart_count(self, namespace: str, pod: str, container: str) -> int:
        with self._lock:
            return getattr(self._records.get((namespace, pod, container)), "restarts", 0)

    def waiting(self, namespace: str, pod: str) -> str:
        """CrashLoopBackOff while a container of the pod waits out its back-off, else ""."""
        with self._lock:
            for record in self._records.values():
                if (record.namespace, record.pod) == (namespace, pod) and record.backing_off:
                    return backoff.CRASH_LOOP
        return ""

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    # ----- internals (the lock is held) ----------------------------------------------------

    def _current(self, key: backoff.Key, host: str, podman_id: str) -> backoff.Record:
        record = self._records.get(key)
        if record is None or record.podman_id != podman_id:
            return backoff.Record(host, *key, podman_id=podman_id)
        return record

    @staticmethod
    def _streak(record: backoff.Record, now: float) -> int:
        if record.started and now - record.started >= backoff.RESET_AFTER:
            return 0  # it ran 10 minutes since its last restart: the back-off starts afresh
        return record.streak

    def _exit(self, record: backoff.Record, exit_code: int, now: float) -> backoff.Record:
        streak = self._streak(record, now)
        delay = backoff.delay(streak)
        return dataclasses.replace(
            record, streak=streak, exited=now, exit_code=exit_code, due_at=now + delay,
            delay=delay, cause=f"exited with code {exit_code}", liveness=False, confirmed=False,
            in_flight_until=0.0,
        )  # fmt: skip

    def _save(self, records: Iterable[backoff.Record], forget: Sequence[backoff.Key]) -> None:
        rows = [dataclasses.asdict(r) for r in records]
        if self._store is not None and (rows or forget):
            self._store.save_restart_records(rows, list(forget))

    # ----- wake-ups ------------------------------------------------------------------------

    def _schedule(self, due_at: float, now: float) -> None:
        """Wake the callbacks now when `due_at` has come, else arm the timer for it."""
        if due_at <= now:
            self._wake()
            return
        with self._lock:
            if self._closed or (self._timer is not None and self._timer_at <= due_at):
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(due_at - now, self._fire)
            self._timer.daemon = True
            self._timer_at = due_at
            self._timer.start()

    def _fire(self) -> None:
        now = self._clock()
        with self._lock:
            self._timer = None
            later = [
                r.due_at for r in self._records.values() if r.due_at is not None and r.due_at > now
            ]
        self._wake()
        if later:
            self._schedule(min(later), now)

    def _wake(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()
