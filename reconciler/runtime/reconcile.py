"""One reconcile of the daemon, as ordered steps: resolve the revision ▶ check it out ▶ load and
validate ▶ (refused: record why, keep the last good revision) ▶ observe + plan ▶ apply ▶ record
the sync, conditions, events and metrics. Runs on the loop thread only, one at a time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.controllers import pullfailures, status, sync
from reconciler.executor import protocol
from reconciler.manifests import loadcache, loader
from reconciler.model import clusterips, errors, hooks, hoststate, workloads
from reconciler.plan import pruneguard, pullsecrets
from reconciler.runtime import logs, notify
from reconciler.source import errors as source_errors
from reconciler.source import git, signatures
from reconciler.state import conditions as cond
from reconciler.state import store as storemod
from reconciler.web import metrics as metricsmod

log = logging.getLogger(__name__)
TEMPLATES_KEPT = 64
LOADS_KEPT = 2  # the revision applied and the one being rolled back to (or the newest, refused)
INTERNAL_RETRY = 30.0
SOURCE_TRIGGERS = frozenset(
    str(t) for t in (cond.Trigger.STARTUP, cond.Trigger.PUSH, cond.Trigger.WEBHOOK,
                     cond.Trigger.POLL)
)  # fmt: skip
"""Seconds until a reconcile that failed on an unexpected error is tried again."""


@dataclass
class Reconciler:
    """Holds what one reconcile needs; `run(trigger)` does one, never raising for bad input."""

    source: git.Source
    executor: protocol.HostExecutor
    store: storemod.Store
    metrics: metricsmod.ReconcilerMetrics
    controllers: sync.Controllers = field(default_factory=sync.Controllers)
    refused: str | None = None  # the newest revision, when it failed validation
    refused_errors: tuple[str, ...] = ()
    age_key_file: Path | None = None  # SOPS-encrypted Secrets (None: $SOPS_AGE_KEY_FILE)
    service_cidr: str = clusterips.DEFAULT_CIDR  # the daemon config's: the Services' cluster IPs
    requeue_after: float | None = None  # the last reconcile wants the next one this soon
    announced: str | None = None
    """The commit the last push webhook announced, until the next sync compares it to the head."""
    verify_commit: Callable[[str], signatures.Verified] | None = None
    """Raises `source.errors.SignatureInvalid` for a head commit that must not deploy."""
    prune_guard: pruneguard.Policy = field(default_factory=pruneguard.Policy)
    """The daemon config's prune guard (`prune_guard_percent`, `allow_mass_prune`)."""
    held_errors: tuple[str, ...] = ()  # set while the last good revision runs for a held one
    _held_told: str | None = None  # the held revision last logged and recorded as an event
    source_trigger: str = str(cond.Trigger.PUSH)  # how the source announces revisions (or poll)
    on_synced: Callable[[sync.Prepared], None] | None = None
    """Called with each applied sync's view of the world (the dashboard's snapshot)."""
    _verified: str | None = None  # the head last verified (~50 ms): not again at each resync
    _backoffs_told: set[tuple[str, str]] = field(default_factory=set)  # BackOff events made
    pulls: pullfailures.PullBackOff = field(default_factory=pullfailures.PullBackOff)
    """Failed image pulls in a row per pod: ErrImagePull/ImagePullBackOff, retry delay."""
    _templates: dict[tuple[str, str, str], workloads.PodTemplate | None] = field(
        default_factory=dict
    )  # rollback targets already read from their commits
    _loads: dict[tuple[str, Path | None, str], loader.LoadResult] = field(default_factory=dict)
    """Valid loads by (revision, age key file, service CIDR): a resync does not read them again."""
    _files: loadcache.LoadCache = field(default_factory=loadcache.LoadCache)  # per file, last load
    _phases: dict[str, float] = field(default_factory=dict)
    """Seconds of the running sync's phases (fetch+load, observe, plan, converge, record), for
    its log line: where a push's time to running goes."""

    def template_at(
        self, revision: str, namespace: str, name: str
    ) -> workloads.PodTemplate | None:
        """A Deployment's pod template at an earlier commit (rollback), None if it is gone.
        Read once per (commit, Deployment): a commit never changes."""
        key = (revision, namespace, name)
        if key not in self._templates:
            if len(self._templates) >= TEMPLATES_KEPT:
                self._templates.clear()
            self._templates[key] = self._read_template(revision, namespace, name)
        return self._templates[key]

    def _load(self, revision: str) -> loader.LoadResult:
        """The revision's manifests, loaded and validated once: a commit's tree never changes,
        so a resync of the same revision reuses the load (only a valid one is kept)."""
        checkout = self.source.checkout(revision)
        key = (revision, self.age_key_file, self.service_cidr)
        loaded = self._loads.get(key)
        if loaded is None:
            loaded = loader.load_repository(checkout, age_key_file=self.age_key_file,
                                            service_cidr=self.service_cidr,
                                            cache=self._files)  # fmt: skip
            if loaded.ok:
                if len(self._loads) >= LOADS_KEPT:
                    self._loads.clear()
                self._loads[key] = loaded
        return loaded

    def _read_template(
        self, revision: str, namespace: str, name: str
    ) -> workloads.PodTemplate | None:
        try:
            loaded = self._load(revision)
        except errors.ReconcilerError as exc:
            log.warning("cannot read revision %s: %s", revision[:12], exc)
            return None
        for deployment in loaded.state.deployments:
            if (deployment.meta.namespace, deployment.meta.name) == (namespace, name):
                return deployment.template
        return None

    def run(self, triggers: Iterable[str]) -> cond.SyncResult:
        """One reconcile. While the newest revision is refused, each sync is recorded against it
        (result Invalid, its errors) and repairs drift of the last good revision, which keeps
        running: a refused revision is never applied and never prunes anything."""
        return self._sync(",".join(triggers) or str(cond.Trigger.RESYNC), time.monotonic())

    def _sync(self, trigger: str, started: float) -> cond.SyncResult:
        self.requeue_after = None
        self._phases = {}
        try:
            newest = self.source.resolve()
        except errors.ReconcilerError as exc:
            self.requeue_after = errors.retry_after(exc)
            return self._failed(self.store.applied_revision() or "", trigger, started, str(exc))
        announced, self.announced = self.announced, None
        if announced and announced != newest:
            self._announced_not_head(announced, newest)
        trigger = self._cause(trigger, newest)
        sync_id = self.store.begin_sync(newest, trigger)
        try:
            loaded: loader.LoadResult | None = None
            if newest != self.refused:
                refusal = self._signature_refusal(newest)
                if refusal is None:
                    loaded = self._load(newest)
                    if loaded.ok:
                        self.refused, self.refused_errors = None, ()
                        return self._apply(sync_id, newest, loaded, started)
                    refusal = tuple(d.format() for d in loaded.errors)
                self._refuse(newest, refusal)
            good = self.store.applied_revision()
            if good is None:  # nothing was ever applied: nothing to keep running
                return self._finish(sync_id, cond.SyncResult.INVALID, {},
                                    list(self.refused_errors), started)  # fmt: skip
            return self._apply(sync_id, good, self._load(good),
                               started)  # fmt: skip
        except errors.ReconcilerError as exc:  # the one place a failed reconcile is judged
            self.requeue_after = errors.retry_after(exc)
            return self._finish(sync_id, cond.SyncResult.FAILED, {}, [str(exc)], started)
        except Exception as exc:  # a bug: recorded and retried, never the end of the daemon
            log.exception("reconcile of %s failed unexpectedly", newest[:12])
            self.requeue_after = INTERNAL_RETRY
            message = f"internal error: {type(exc).__name__}: {exc} (see the daemon's log)"
            return self._finish(sync_id, cond.SyncResult.FAILED, {}, [message], started)

    def _apply(
        self, sync_id: int, sha: str, loaded: loader.LoadResult, started: float
    ) -> cond.SyncResult:
        _register_secrets(loaded)
        planning = time.monotonic()
        prepared = sync.prepare_loaded(loaded, self.executor, sha, self.controllers,
                                       self._guard(sha))  # fmt: skip
        if prepared.held is not None:
            return self._hold(sync_id, sha, prepared.held, started)
        self.requeue_after = prepared.requeue_after
        converging = time.monotonic()
        done = sync.converge(prepared, self.executor, _log_action)
        retry = self.requeue_after
        if done.failed and retry is not None and retry < sync.STEP_REQUEUE:
            self.requeue_after = sync.STEP_REQUEUE  # a failed action is not tried again at once
        self._count_pulls(prepared, done)
        self._phases = {
            "load": planning - started,
            "observe": prepared.observe_seconds,
            "plan": converging - planning - prepared.observe_seconds,
            "converge": time.monotonic() - converging,
        }
        return self._record(sync_id, sha, prepared, done, started)

    def _count_pulls(self, prepared: sync.Prepared, done: sync.Converged) -> None:
        """Failed pulls counted per pod; the next sync comes when the first is due."""
        now = time.monotonic()
        self.pulls.update(done.results, now)
        self.pulls.forget_except((r.namespace, r.name) for r in prepared.result.runs)
        retry, after = self.pulls.requeue_after(now), self.requeue_after
        if retry is not None:
            self.requeue_after = retry if after is None else min(retry, after)

    def _cause(self, trigger: str, newest: str) -> str:
        """What caused this sync: a revision no sync has seen came from the source (a push seen
        by a resync or host-event pass before its own trigger arrived), not from the timer."""
        last = self.store.last_sync()
        new = last is None or last.revision != newest
        if new and not SOURCE_TRIGGERS & set(trigger.split(",")):
            return self.source_trigger
        return trigger

    def _guard(self, sha: str) -> pruneguard.Policy:
        """The prune guard for revision `sha`: lifted by the config or the revision's own file."""
        override = (self.source.checkout(sha) / pruneguard.OVERRIDE_FILE).is_file()
        if not override or self.prune_guard.allowed:
            return self.prune_guard
        return pruneguard.Policy(self.prune_guard.max_percent, allowed=True)

    def _hold(
        self, sync_id: int, sha: str, held: pruneguard.Verdict, started: float
    ) -> cond.SyncResult:
        """The prune guard holds `sha`: nothing of it is applied; the last good revision (if
        another) keeps running, its drift repaired; the sync ends `Blocked`, its first error
        `PruneBlocked: revision ... would delete N of M managed pods ...`."""
        message = f"{cond.Reason.PRUNE_BLOCKED}: revision {sha[:12]} {held.message}"
        if self._held_told != sha:  # once per held revision, not per resync
            self._held_told = sha
            log.warning("%s", message, extra={"revision": sha, "pruned": held.pruned,
                                              "managed": held.managed})  # fmt: skip
            self.store.record_event(cond.EventKind.WARNING, "Reconciler/reconciler",
                                    cond.Reason.PRUNE_BLOCKED, message)  # fmt: skip
        good = self.store.applied_revision()
        if good is None or good == sha or self.held_errors:
            return self._finish(sync_id, cond.SyncResult.BLOCKED, {}, [message], started)
        self.held_errors = (message,)
        try:
            return self._apply(sync_id, good, self._load(good), started)
        finally:
            self.held_errors = ()

    # ----- outcomes ---------------------------------------------------------------------

    def _announced_not_head(self, announced: str, head: str) -> None:
        """A webhook announced `announced` but the fetch found `head`: a later push, a force-push
        or a commit on another branch. Recorded, so that a missing deploy can be explained."""
        message = (
            f"{cond.Reason.ANNOUNCED_NOT_HEAD}: the webhook announced commit {announced[:12]}, "
            f"but the fetched head is {head[:12]}; syncing the head"
        )
        log.warning("%s", message, extra={"announced": announced, "revision": head})
        self.store.record_event(cond.EventKind.WARNING, "Reconciler/reconciler",
                                cond.Reason.ANNOUNCED_NOT_HEAD, message)  # fmt: skip

    def _signature_refusal(self, sha: str) -> tuple[str, ...] | None:
        """None when signatures are not required or `sha` is signed by an allowed key; else the
        refusal (`SignatureInvalid: commit ... (signer: ...)`)."""
        if self.verify_commit is None or sha == self._verified:
            return None
        try:
            verified = self.verify_commit(sha)
        except source_errors.SignatureInvalid as exc:
            return (str(exc),)
        self._verified = sha
        if sha != self.store.applied_revision():
            log.info("commit %s: signed by %s (key %s), verified", sha[:12], verified.signer,
                     verified.key)  # fmt: skip
        return None

    def _refuse(self, sha: str, refusal: tuple[str, ...]) -> None:
        self.refused = sha
        self.refused_errors = refusal
        log.error(
            "revision %s refused: %d error(s); nothing applied, nothing pruned; "
            "the last good revision (%s) keeps running",
            sha[:12], len(self.refused_errors), (self.store.applied_revision() or "none")[:12],
            extra={"revision": sha, "errors": list(self.refused_errors[:20])},
        )  # fmt: skip
        for line in self.refused_errors[:20]:
            log.error("%s", line)

    def _record(
        self,
        sync_id: int,
        sha: str,
        prepared: sync.Prepared,
        done: sync.Converged,
        started: float,
    ) -> cond.SyncResult:
        result = prepared.result
        counts = {kind.value: 0 for kind in hoststate.ActionKind}
        errors: list[str] = []
        drift = sha == self.store.applied_revision()  # same revision: changes repair drift
        for outcome in done.results:
            if outcome.outcome is hoststate.Outcome.DONE:
                counts[outcome.action.kind.value] += 1
                kind, obj, reason, message = status.event(outcome.action, drift)
                self.store.record_event(kind, obj, reason, message)
                if hooks.noteworthy(outcome.message):  # a failed hook, an init container
                    self.store.record_event(cond.EventKind.WARNING, obj,
                                            hooks.event_reason(outcome.message), outcome.message)
            else:
                a = outcome.action
                errors.append(f"{a.kind} {a.namespace}/{a.name} on {a.host}: {outcome.message}")
        counts["unchanged"] = len(result.plan.unchanged)
        told = set()
        for kind, obj, reason, message in self.pulls.events(done.results):  # ErrImagePull
            self.store.record_event(kind, obj, reason, message)
        for kind, obj, reason, message in [*status.back_off_events(prepared),
                                           *status.wait_events(prepared)]:  # fmt: skip
            told.add((obj, message))
            if (obj, message) not in self._backoffs_told:  # once per back-off or wait, not per sync
                self.store.record_event(kind, obj, reason, message)
        self._backoffs_told = told
        self.metrics.balancers.update(prepared.load.state, self.controllers.balancers)
        for host in self.controllers.balancers.take_restarted():
            message = "the load balancer (HAProxy) was not running: started again"
            self.store.record_event(cond.EventKind.WARNING, f"Host/{host}",
                                    str(cond.Reason.LB_RESTARTED), message)  # fmt: skip
        errors += [o.error for o in prepared.unreachable]  # each "host NAME: ..."
        errors += [f"{u.pod}: {u.message}" for u in result.unschedulable]
        errors += [d.format() for d in result.errors]
        conditions = self.pulls.relabel(status.conditions(prepared, done))
        self.store.set_conditions(conditions)
        if self.on_synced is not None:
            self.on_synced(prepared)
        self.metrics.update_from_conditions(conditions)
        self.metrics.set_autoscalers(self.controllers.autoscaling.records().values())
        self.metrics.set_deployments(
            (d.namespace, d.name, {"desired": d.counts.replicas, "updated": d.counts.updated,
                                   "ready": d.counts.ready, "available": d.counts.available})
            for d in prepared.deployments
        )  # fmt: skip
        ended = cond.SyncResult.PARTIAL if errors else cond.SyncResult.SUCCEEDED
        if self.refused_errors:
            ended, errors = cond.SyncResult.INVALID, [*self.refused_errors, *errors]
        elif self.held_errors:
            ended, errors = cond.SyncResult.BLOCKED, [*self.held_errors, *errors]
        return self._finish(sync_id, ended, counts, errors, started, applied=sha)

    def _failed(self, sha: str, trigger: str, started: float, error: str) -> cond.SyncResult:
        log.error("cannot read the source: %s", error)
        sync_id = self.store.begin_sync(sha, trigger)
        return self._finish(sync_id, cond.SyncResult.FAILED, {}, [error], started)

    def _finish(
        self,
        sync_id: int,
        result: cond.SyncResult,
        counts: dict[str, int],
        errors: list[str],
        started: float,
        *,
        applied: str | None = None,
    ) -> cond.SyncResult:
        """Record the sync's end, with the revision it applied (`applied`) in the same write."""
        seconds = time.monotonic() - started
        if self._phases:
            self._phases["record"] = seconds - sum(self._phases.values())
        self.store.finish_sync(sync_id, result, counts, errors, seconds, applied=applied)
        self.metrics.observe_sync(result, seconds)
        revision = self.store.last_sync()
        sha = revision.revision if revision is not None else ""
        log.log(
            logging.WARNING if errors else logging.INFO,
            "sync %s of %s in %.2fs: %s%s", result, sha[:12] or "no revision", seconds,
            ", ".join(f"{v} {k}" for k, v in counts.items()) or "nothing applied",
            "".join(f"; {error}" for error in errors),
            extra={"result": str(result), "revision": sha, "seconds": round(seconds, 3),
                   "counts": counts, "trigger": revision.trigger if revision else "",
                   "phases": {k: round(v, 3) for k, v in self._phases.items()}},
            # errors only in the message: it is redacted
        )  # fmt: skip
        return result


def _register_secrets(loaded: loader.LoadResult) -> None:
    """Every Secret value of the revision is redacted from the logs from now on, but for one
    that is also a namespace or object name of the repository (public in git as that name)."""
    names = {part for key in loaded.state.objects for part in (key.namespace, key.name)}
    for secret in loaded.state.secrets:
        for value in secret.data.values():
            logs.redact.register(value, names)
        for part in pullsecrets.sensitive_values(secret):  # a registry password, its `auth`
            logs.redact.register(part, names)


def _log_action(result: hoststate.ActionResult) -> None:
    """Log each finished action; a long apply that makes progress also feeds the watchdog."""
    notify.watchdog()
    a = result.action
    level = logging.INFO if result.outcome is hoststate.Outcome.DONE else logging.WARNING
    log.log(
        level, "%s %s/%s on %s: %s (%.1fs)%s", a.kind, a.namespace, a.name, a.host,
        result.outcome, result.seconds, f": {result.message}" if result.message else "",
        extra={"action": str(a.kind), "pod": f"{a.namespace}/{a.name}", "host": a.host,
               "outcome": str(result.outcome), "reason": a.reason},
    )  # fmt: skip
