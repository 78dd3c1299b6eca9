"""Host health, as Kubernetes' node lifecycle controller: each host's condition (Ready, Unknown,
NotReady) with the time it changed. `Monitor` pings every host on a short period from its own
threads, counts any answer on a host's connection as its heartbeat (as a kubelet's lease), and
keeps the conditions (in the state database through `save`); `hostconditions.judge` and `tick`
are its pure core. The reconcile uses them in the steps of `hostpass` (hold, fence).

A host that stops answering is `Unknown` at once (HostNotResponding); its pods are unknown, never
deleted, and nothing of theirs is re-placed. Only after `grace` seconds without an answer is it
`NotReady` (HostLost): its Deployment pods are then re-placed elsewhere (bare Pods never are).
When a lost host answers again it stays NotReady (Fencing) until the copies it still runs of the
pods re-placed meanwhile are removed; then it is Ready and may get pods again.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reconciler.controllers import hostconditions as hc
from reconciler.executor import idlepool, protocol
from reconciler.model import hoststate

if TYPE_CHECKING:
    from reconciler.controllers import sync

log = logging.getLogger(__name__)

GRACE_SECONDS = 10.0
"""Default seconds without an answer before a host is NotReady and its pods move."""
CHECK_PERIOD = 1.0
"""Seconds between two checks (pings) of one host."""
STARVED_AFTER = 1.0
"""The monitor's ticker waking this many seconds later than its period asked means this
process was starved of CPU: that delay is not counted as any host's silence (the hosts may
have answered; this process could not hear them)."""
OBSERVE_DEADLINE = 4.0
OBSERVE_THREADS = 512
"""Hosts read at once (threads are made on demand, one per host waited for): the deadline must
count each host's own answer, never a wait in a queue behind other hosts (the pool's default of
cpu+4 threads made 50 hosts on a 2-core machine miss it and flap Unknown)."""
"""Seconds a reconcile waits for one host's observation: a host cut off a moment ago (still
Ready) must not hold the reconcile for its connection's timeouts (measured: 14 s with
connect_timeout 3, past the grace period). The late answer still counts as a check."""
FIRST_OBSERVE_DEADLINE = 60.0
"""What a reconcile waits for a host not checked yet by this process: its first check opens
the connection, queued behind the other hosts' SSH handshakes (a bounded few at a time); at
50 hosts on a loaded 2-core machine that took over 4 s and every start began with a Partial
sync and a dozen hosts flapping Unknown. Such a host is judged by its first check's own
result (connect_timeout bounds it), never by this deadline or SILENT_AFTER before it."""


Save = Callable[[Sequence[Mapping[str, Any]]], None]


class Monitor:
    """Every host's condition, kept from checks made on its own threads (one per host, plus a
    ticker for the grace period). Thread-safe. `wake` is called when a host is lost or answers
    again (a reconcile then re-places or fences); `save` when any condition changes."""

    def __init__(
        self,
        executor: protocol.HostExecutor | None,
        grace: float = GRACE_SECONDS,
        *,
        clock: Callable[[], float] = time.time,
        wake: Callable[[], None] | None = None,
        save: Save | None = None,
        saved: Iterable[Mapping[str, Any]] = (),
        period: float = CHECK_PERIOD,
    ) -> None:
        self.grace = grace
        self._executor = executor
        self._clock = clock
        self._wake = wake
        self._save = save
        self._period = period
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conditions: dict[str, hc.Condition] = {}
        for raw in saved:
            found = hc.Condition.from_record(raw)
            if found is not None:
                self._conditions[found.host] = found
        self._pods: dict[str, tuple[hoststate.ObservedPod, ...]] = {}
        self._targets: dict[str, hoststate.HostTarget] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._ticker: threading.Thread | None = None
        self._pool: idlepool.RetiringPool | None = None
        self._checked: set[str] = set()  # hosts with a finished check in this process
        self._starved = 0.0  # seconds this process was starved (late ticks), summed
        self._starved_at_ok: dict[str, float] = {}  # host -> `_starved` at its last heartbeat
        self.shrunk: dict[tuple[str, str], int] = {}
        self.empty: set[str] = set()  # hosts that answered without a usable Podman: asked again
        """(namespace, owner) -> the replicas a Deployment is reconciled for while a host whose
        pods are not known is down (`hostpass`): kept from the first such pass to the last."""

    # ----- the pure core, applied under the lock ---------------------------------------------

    def heard(self, host: str, error: str | None,
              pods: Sequence[hoststate.ObservedPod] | None = None) -> None:  # fmt: skip
        """A check of `host` finished: `error` None when it answered (with `pods` when it was
        an observe; a ping leaves the pods last observed)."""
        with self._lock:
            self._checked.add(host)
            if error is None and pods is not None:
                self._pods[host] = tuple(pods)
            self._update(host, hc.judge(self._conditions.get(host), host, error, self._clock()))

    def tick(self, late: float = 0.0) -> None:
        """Time passed: a host whose connection answered anything since its last heartbeat
        gets a new one; silent hosts go Unknown, then NotReady. `late`: seconds the caller's
        loop woke later than asked; past STARVED_AFTER, this process was starved and that
        time counts against no host. A host whose first check has not finished in this process
        is left as it is (its heartbeat says nothing about it yet)."""
        answered: dict[str, float] = {}  # host -> when its connection last answered
        if self._executor is not None:
            for host in self.targets_checked():
                age = self._executor.answer_age(host)
                if age is not None:  # made a time at once: a stall before the lock must not
                    answered[host] = self._clock() - age  # make an old answer look recent
        with self._lock:
            now = self._clock()
            if late > STARVED_AFTER:
                self._starved += late
                log.info("host health: this process was starved for %.1fs: not counted as "
                         "silence of any host", late)  # fmt: skip
            for host in [h for h in self._conditions if h in self._checked]:
                at = answered.get(host)
                if at is not None and at > self._conditions[host].last_ok:
                    # its connection answered another call (its pod work): a heartbeat
                    self._update(host, hc.judge(self._conditions[host], host, None, at))
                excused = self._starved - self._starved_at_ok.get(host, self._starved)
                self._update(host, hc.tick(self._conditions[host], now, self.grace, excused))

    def targets_checked(self) -> list[str]:
        """The hosts with a finished check in this process."""
        with self._lock:
            return [host for host in self._conditions if host in self._checked]

    def fenced(self, host: str) -> None:
        with self._lock:
            condition = self._conditions.get(host)
            if condition is not None:
                self._update(host, hc.fenced(condition, self._clock()))

    def _update(self, host: str, new: hc.Condition) -> None:
        old = self._conditions.get(host)
        if old == new:
            return
        self._conditions[host] = new
        if old is None or new.last_ok > old.last_ok:
            self._starved_at_ok[host] = self._starved
        if old is None or (old.status, old.reason) != (new.status, new.reason):
            # a one-shot command names a host that did not answer itself, once, at its end
            quiet = new.status is hc.Status.READY or self._executor is None
            log.log(logging.INFO if quiet else logging.WARNING,
                    "host %s: %s (%s)%s", host, new.status, new.reason,
                    f": {new.message}" if new.message else "")  # fmt: skip
            if self._wake is not None and (new.lost or new.status is hc.Status.READY or
                                           (old is not None and old.lost)):  # fmt: skip
                self._wake()
        if self._save is not None and (old is None or old.status != new.status
                                       or old.reason != new.reason):  # fmt: skip
            try:
                self._save([c.record() for c in self._conditions.values()])
            except Exception:  # the store's trouble must not stop the checks
                log.exception("cannot save the host conditions")

    # ----- what the reconcile reads --------------------------------------------------------

    def conditions(self) -> dict[str, hc.Condition]:
        with self._lock:
            return dict(self._conditions)

    def targets(self) -> tuple[hoststate.HostTarget, ...]:
        """The hosts it checks: those of the last reconcile (GET /v1/observe reads only these)."""
        with self._lock:
            return tuple(self._targets.values())

    def last_pods(self, host: str) -> tuple[hoststate.ObservedPod, ...] | None:
        """The pods `host` ran when a reconcile last observed it (None: not known, never
        observed this run or changed since)."""
        with self._lock:
            return self._pods.get(host)

    def changing(self, hosts: Iterable[str]) -> None:
        """A plan is about to change these hosts' pods: what they last answered is not what
        they run until observed again (a host lost before that is judged blind, so that the
        pods it just got are not created again elsewhere within the grace period)."""
        with self._lock:
            for host in hosts:
                self._pods.pop(host, None)

    # ----- the checking threads -------------------------------------------------------------

    def watch(self, targets: Iterable[hoststate.HostTarget]) -> None:
        """Check exactly these hosts from now on (idempotent: call it at every reconcile)."""
        wanted = {t.name: t for t in targets}
        with self._lock:
            self._targets = wanted
            for name in list(self._conditions):
                if name not in wanted:
                    del self._conditions[name]
            for name in wanted:
                self._conditions.setdefault(
                    name, hc.Condition(name, hc.Status.READY, hc.Reason.HOST_READY, "",
                                       self._clock(), self._clock()))  # fmt: skip
            if self._executor is None or self._stop.is_set():
                return
            for name in wanted:
                thread = self._threads.get(name)
                if thread is None or not thread.is_alive():
                    thread = threading.Thread(target=self._check_loop, args=(name,),
                                              name=f"hosthealth-{name}", daemon=True)  # fmt: skip
                    self._threads[name] = thread
                    thread.start()
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick_loop, name="hosthealth-tick",
                                                daemon=True)  # fmt: skip
                self._ticker.start()

    def _check_loop(self, name: str) -> None:
        """Ping the host every period: one round trip on its open connection (the reconcile's
        observe reads its pods; a whole observe here cost 4 API calls a host a second)."""
        assert self._executor is not None
        while not self._stop.is_set():
            with self._lock:
                target = self._targets.get(name)
            if target is None:
                return
            started = time.monotonic()
            try:
                error = self._executor.ping(target)
            except Exception as exc:  # the executor's own trouble: the host is not known well
                log.exception("host check of %s failed", name)
                error = f"host {name}: check failed: {exc}"
            self.heard(name, error)
            self._stop.wait(max(0.05, self._period - (time.monotonic() - started)))

    def _tick_loop(self) -> None:
        step = self._period / 4
        last = time.monotonic()
        while not self._stop.wait(step):
            now = time.monotonic()
            late, last = now - last - step, now
            self.tick(late)

    @property
    def checking(self) -> bool:
        """It checks hosts on its own threads (the daemon's); a one-shot command's does not."""
        return self._executor is not None

    def observe(
        self, executor: protocol.HostExecutor, targets: Sequence[hoststate.HostTarget]
    ) -> dict[str, hoststate.HostObservation]:
        """Each host read on its own, at most OBSERVE_DEADLINE seconds waited for (a host not
        checked yet: FIRST_OBSERVE_DEADLINE): a host that has not answered by then is
        unreachable for this reconcile, and Unknown at once unless its connection answered
        another call meanwhile (then its heartbeat judges it)."""
        with self._lock:
            if self._pool is None:
                self._pool = idlepool.RetiringPool(OBSERVE_THREADS, "observe")
            pool = self._pool
            unchecked = {t.name for t in targets} - self._checked
        jobs = {pool.submit(executor.observe, [t]): t.name for t in targets}
        done, late = concurrent.futures.wait(jobs, timeout=OBSERVE_DEADLINE)
        first = {job for job in late if jobs[job] in unchecked}
        if first:  # still opening their connections: wait for their first answer
            more, _ = concurrent.futures.wait(
                first, timeout=FIRST_OBSERVE_DEADLINE - OBSERVE_DEADLINE
            )
            done, late = done | more, late - more
        found = {}
        for job in done:
            name = jobs[job]
            try:
                seen = job.result()[name]
            except Exception as exc:  # the executor's own trouble (closed): not the host's
                seen = hoststate.HostObservation(name, False, error=f"host {name}: {exc}")
            self.heard(name, None if seen.reachable else seen.error, seen.pods)
            found[name] = seen
        for job in late:
            name = jobs[job]
            waited = FIRST_OBSERVE_DEADLINE if name in unchecked else OBSERVE_DEADLINE
            error = f"host {name}: no answer within {waited:g}s"
            age = executor.answer_age(name)
            if age is not None and age < waited:  # busy, not silent: not judged by this read
                error += " (its connection answered other calls meanwhile: a busy host)"
            else:
                self.heard(name, error)
            found[name] = hoststate.HostObservation(name, reachable=False, error=error)
        return found

    def stop(self) -> None:
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        for thread in list(self._threads.values()) + ([self._ticker] if self._ticker else []):
            thread.join(timeout=0.2)  # a check hung on a dead host ends with its timeout


def observe(
    executor: protocol.HostExecutor,
    targets: Sequence[hoststate.HostTarget],
    controllers: sync.Controllers | None,
) -> dict[str, hoststate.HostObservation]:
    """The reconcile's observe: hosts the monitor knows are not answering are not waited for
    (their observation says why); the others are read, and each answer counts as a check."""
    monitor = controllers.hosts if controllers is not None else None
    if monitor is None:
        return executor.observe(targets)
    monitor.watch(targets)
    conditions = monitor.conditions()
    asked = [t for t in targets if t.name not in conditions or conditions[t.name].answering
             or t.name in monitor.empty]  # fmt: skip
    if monitor.checking:  # the daemon: a silent host must not hold the reconcile
        found = monitor.observe(executor, asked) if asked else {}
    else:  # one-shot: wait for every host (what did not answer is named as the executor says)
        found = executor.observe(asked) if asked else {}
        for name, seen in found.items():
            monitor.heard(name, None if seen.reachable else seen.error, seen.pods)
    monitor.empty = {name for name, seen in found.items() if seen.empty} | (
        monitor.empty - set(found))  # fmt: skip
    out = {}
    for target in targets:
        answer = found.get(target.name)
        out[target.name] = answer or hoststate.HostObservation(
            target.name, reachable=False, error=hc.describe(conditions[target.name], monitor.grace)
        )
    return out
