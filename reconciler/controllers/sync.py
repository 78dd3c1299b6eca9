"""One reconcile, as an ordered tuple of steps with one signature:
`STEPS = (observe, probe, expand, restart, plan)` after the manifests are loaded, then `converge`.

`prepare()` runs everything up to the plan (the dry-run `diff` stops there); `converge()` carries
the plan out. The CLI and the daemon both call these, so they share one code path to the plan.
Without `Controllers` (the dry-run `diff`), the plan is the end state: every pod as declared, at
once. With them (`apply`, the daemon), it is the next step: the Deployment controller's rollout
step, container restarts with back-off, readiness from the prober.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.controllers import autoscale as autoscalectl
from reconciler.controllers import balancers as balancersctl
from reconciler.controllers import (
    cronrun,
    drain,
    hosthealth,
    hostpass,
    initsteps,
    jobrun,
    lifecycle,
    rollouts,
)
from reconciler.controllers import deployment as deploymentctl
from reconciler.controllers import prober as proberctl
from reconciler.executor import protocol
from reconciler.manifests import loader
from reconciler.model import base, errors, hoststate, objects
from reconciler.plan import expand, memo, pipeline, pruneguard
from reconciler.source import worktree

Observations = dict[str, hoststate.HostObservation]
Targets = dict[str, hoststate.HostTarget]


class InvalidManifestsError(errors.StalledError):
    """The repository does not validate: nothing may be planned or applied from it."""

    def __init__(self, load: loader.LoadResult) -> None:
        super().__init__(f"{len(load.errors)} manifest error(s)")
        self.load = load


@dataclass
class Controllers:
    """The controllers' memory in one process: the daemon keeps one for its lifetime, `apply`
    one per run (`manager.start` builds them). `prober` and `restarts` are optional (None:
    readiness is "all containers running", a down container's pod is replaced as before)."""

    rollouts: rollouts.Tracker = field(default_factory=rollouts.Tracker)
    prober: proberctl.Prober | None = None
    restarts: lifecycle.Restarts | None = None
    clock: Callable[[], float] = time.time
    autoscaling: autoscalectl.Autoscaling = field(default_factory=autoscalectl.Autoscaling)
    hosts: hosthealth.Monitor | None = None  # host health (the daemon's); None: one-shot
    balancers: balancersctl.Balancers = field(default_factory=balancersctl.Balancers)
    jobs: jobrun.Jobs = field(default_factory=jobrun.Jobs)  # the Job controller's records
    cron: cronrun.Crons = field(default_factory=cronrun.Crons)  # the CronJob controller's
    primed: bool = False  # the prober has read the readiness of what ran at the first pass
    watch_exits: bool = True  # observe opens the exit streams (a one-shot apply: once it waits)
    plans: memo.Memo = field(default_factory=memo.Memo)  # the last plan, reused if nothing changed
    changed: threading.Event = field(default_factory=threading.Event)
    """Set when something the controllers wait for happened (a readiness change, a restart
    coming due): `wait` returns early."""

    def wait(self, seconds: float) -> None:
        """Sleep until `seconds` pass or something changed (for one-shot `apply`)."""
        self.changed.wait(max(0.0, seconds))
        self.changed.clear()


@dataclass(frozen=True)
class Prepared:
    """Everything known before changing anything: what is desired, what runs, the plan."""

    load: loader.LoadResult
    targets: tuple[hoststate.HostTarget, ...]
    observations: dict[str, hoststate.HostObservation]
    result: pipeline.PlanResult
    observe_seconds: float = 0.0
    deployments: tuple[rollouts.Status, ...] = ()
    requeue_after: float | None = None  # run again this soon (a rollout or back-off waits)
    waiting: tuple[lifecycle.Waiting, ...] = ()  # containers backing off (CrashLoopBackOff)
    controllers: Controllers | None = None
    held: pruneguard.Verdict | None = None
    """Set when the prune guard holds the revision: the controllers never saw it and the plan is
    empty (a dry run, without controllers, plans on to show what would be deleted)."""

    @property
    def rolling(self) -> bool:
        """A rollout is under way (not complete, not stuck)."""
        return any(not d.complete and not d.failed for d in self.deployments)

    @property
    def unreachable(self) -> tuple[hoststate.HostObservation, ...]:
        return tuple(o for o in self.observations.values() if not o.reachable)


@dataclass
class Converged:
    prepared: Prepared
    results: list[hoststate.ActionResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[hoststate.ActionResult]:
        return [r for r in self.results if r.outcome is not hoststate.Outcome.DONE]


def targets_of(state: objects.DesiredState) -> tuple[hoststate.HostTarget, ...]:
    """How to reach each declared Host."""
    return tuple(
        hoststate.HostTarget(name=h.meta.name, address=h.address, port=h.ssh_port, user=h.ssh_user)
        for h in state.hosts
    )


def load(path: Path) -> loader.LoadResult:
    """Load and validate; raise InvalidManifests when any error is found."""
    result = loader.load_repository(path)
    if not result.ok:
        raise InvalidManifestsError(result)
    return result


def prepare(
    path: Path,
    executor: protocol.HostExecutor,
    revision: str | None = None,
    controllers: Controllers | None = None,
) -> Prepared:
    """Steps up to the plan: load ▶ STEPS. No host is changed."""
    loaded = load(path)
    revision = revision if revision is not None else worktree.revision_of(path)
    return prepare_loaded(loaded, executor, revision, controllers)


@dataclass
class Pass:
    """One reconcile pass, filled in by the STEPS in order."""

    loaded: loader.LoadResult
    executor: protocol.HostExecutor
    revision: str
    controllers: Controllers | None
    targets: tuple[hoststate.HostTarget, ...] = ()
    observations: Observations = field(default_factory=dict)
    observe_seconds: float = 0.0
    now: float = 0.0
    expansion: expand.Expansion | None = None
    deployments: list[rollouts.Status] = field(default_factory=list)
    restarts: tuple[hoststate.Action, ...] = ()
    waiting: tuple[lifecycle.Waiting, ...] = ()
    requeue: list[float] = field(default_factory=list)
    result: pipeline.PlanResult | None = None
    hosts: hostpass.HostView | None = None
    guard: pruneguard.Policy | None = None  # None: no prune guard
    held: pruneguard.Verdict | None = None
    state_dir: Path | None = None
    """Without controllers (a dry run): the state directory whose Job and CronJob records it
    reads (None: `storemod.default_state_dir()`)."""


def observe(p: Pass) -> None:
    """What runs on every declared host (reachable or why not)."""
    p.targets = targets_of(p.loaded.state)
    started = time.monotonic()
    p.observations = hosthealth.observe(p.executor, p.targets, p.controllers)
    p.observe_seconds = time.monotonic() - started
    p.now = p.controllers.clock() if p.controllers else time.time()
    c = p.controllers
    if c is not None and c.restarts is not None and c.watch_exits:
        p.executor.watch_exits(p.targets, c.restarts.on_exit)  # exits as they happen


def guard_prunes(p: Pass) -> None:
    """The prune guard (`plan.pruneguard`): a revision that would delete the pods of too many
    objects is held before any controller sees it."""
    if p.guard is None:
        return
    verdict = pruneguard.judge(p.loaded.state, p.observations, p.guard)
    if verdict.blocked:
        p.held = verdict


def probe(p: Pass) -> None:
    """Readiness from the prober (which learns of new and gone containers here). The first pass
    of a process probes what already runs once, at once: a pod serving before `apply` or a
    daemon restart is not taken for unready (and out of its Services) until its next probe."""
    if p.controllers is None or p.controllers.prober is None:
        return
    prober, targets = p.controllers.prober, {t.name: t for t in p.targets}
    if not p.controllers.primed:
        p.observations = prober.probe_once(p.observations, targets)
        p.controllers.primed = True
        return
    prober.sync(p.observations, targets)
    p.observations = prober.annotate(p.observations)


def expand_workloads(p: Pass) -> None:
    """The Deployment controller's rollout step for every Deployment, and the bare Pods."""
    if p.controllers is None:
        return  # end state (dry run): pipeline expands everything at once
    tracker = p.controllers.rollouts
    desired = p.loaded.state
    observed: dict[tuple[str, str], list[hoststate.ObservedPod]] = {}  # (namespace, owner)
    for seen in p.observations.values():
        if seen.reachable:
            for pod in seen.pods:
                observed.setdefault((pod.namespace, pod.owner), []).append(pod)
    pods: list[expand.DesiredPod] = []
    kept: list[hoststate.ObservedPod] = []
    reasons: dict[tuple[str, str], str] = {}
    for deployment in desired.deployments:
        mine = observed.get((deployment.meta.namespace, expand.owner_of(deployment)), [])
        target = tracker.target(deployment, p.now)
        step = deploymentctl.step(deployment, target.template, mine, p.now,
                                  stalled=target.stalled, digest=target.template_hash)  # fmt: skip
        pods.extend(step.pods)
        kept.extend(step.keep)
        for pod in step.remove:
            reasons[pod.key] = f"rollout: replaced by template {step.template_hash}"
        p.deployments.append(tracker.record(deployment, target, step, p.revision, p.now))
        if not step.complete and not target.stalled:
            p.requeue.append(ROLLOUT_REQUEUE)
    pods.extend(expand.bare_pod(pod) for pod in desired.pods)
    p.expansion = expand.Expansion(
        tuple(sorted(pods, key=lambda pod: pod.key)), tuple(kept), base.FrozenMap(reasons)
    )


def restart(p: Pass) -> None:
    """Containers that are down and due for a restart (the pod lifecycle controller). Without
    the controllers (a dry run) a fresh one, with no memory of back-offs, says what would be
    restarted now."""
    known = p.controllers.restarts if p.controllers is not None else None
    verdicts = (known or lifecycle.Restarts()).due(initsteps.view(p.observations), p.now)
    p.restarts = verdicts.restarts + initsteps.continuations(p.observations)  # init containers
    p.waiting = verdicts.waiting
    if verdicts.next_due is not None:
        p.requeue.append(verdicts.next_due)


def plan(p: Pass) -> None:
    """The plan (`plan.pipeline`); the controllers' memo reuses the last one when nothing it
    is planned from changed (a no-op resync)."""
    build = p.controllers.plans.build_plan if p.controllers is not None else pipeline.build_plan
    p.result = build(
        p.loaded.state, p.observations, p.revision, expansion=p.expansion, restarts=p.restarts
    )
    rolling = {(d.namespace, d.name) for d in p.deployments if not d.complete and not d.failed}
    if rolling and not p.result.plan.empty:  # look again soon: the prober learns of new pods
        p.requeue.append(_next_step(p, rolling))


def _next_step(p: Pass, rolling: set[tuple[str, str]]) -> float:
    """After a pass that changes pods while Deployments roll: at once (`NEXT_STEP_NOW`) when
    every rolling Deployment's new pods are available as soon as they run (the next pass sees
    them and takes the next step), else `STEP_REQUEUE` (the prober must learn of them first)."""
    instant = all(
        deploymentctl.ready_at_start(d)
        for d in p.loaded.state.deployments
        if (d.meta.namespace, d.meta.name) in rolling
    )
    return NEXT_STEP_NOW if instant else STEP_REQUEUE


STEPS: tuple[Callable[[Pass], None], ...] = (
    observe, cronrun.run_step, hostpass.assess, guard_prunes, probe, drain.evict, autoscalectl.step,
    expand_workloads, jobrun.step, hostpass.hold,
    restart, plan, hostpass.fence,
)
ROLLOUT_REQUEUE = 1.0
"""Seconds until the next reconcile while a rollout waits for pods to become available (the
prober's readiness changes wake the daemon and `apply` earlier)."""
STEP_REQUEUE = 0.2
"""Seconds until the next reconcile after a rollout step changed pods: its next observe hands
the new containers to the prober."""
NEXT_STEP_NOW = 0.0
"""The same when the new pods need no probe and no `minReadySeconds`: the next step at once.
Never a busy loop: only a pass whose actions all succeeded asks for it (`runtime.reconcile`),
and a pass that changes nothing waits `ROLLOUT_REQUEUE` or a readiness change."""


def prepare_loaded(
    loaded: loader.LoadResult,
    executor: protocol.HostExecutor,
    revision: str,
    controllers: Controllers | None = None,
    guard: pruneguard.Policy | None = None,
    *,
    state_dir: Path | None = None,
) -> Prepared:
    """STEPS for manifests already loaded and valid. With a `guard`, a revision the prune guard
    holds stops after it (`Prepared.held`, an empty plan) unless this is a dry run, which reads
    the Job records of `state_dir` (`Pass.state_dir`)."""
    p = Pass(loaded, executor, revision, controllers, guard=guard, state_dir=state_dir)
    for run_step in STEPS:
        if p.held is not None and controllers is not None:
            p.result = pipeline.PlanResult(plan=hoststate.Plan(), revision=revision)
            break
        run_step(p)
    assert p.result is not None
    return Prepared(
        loaded, p.targets, p.observations, p.result, p.observe_seconds,
        tuple(p.deployments), min(p.requeue) if p.requeue else None, p.waiting, controllers,
        held=p.held,
    )  # fmt: skip


def _reachable(observations: Observations, host: str) -> bool:
    seen = observations.get(host)
    return seen is not None and seen.reachable


def converge(
    prepared: Prepared,
    executor: protocol.HostExecutor,
    progress: Callable[[hoststate.ActionResult], None] | None = None,
) -> Converged:
    """Carry out the prepared plan, wave by wave; one result per action (hosts in parallel).
    Around it, the endpoints controller drains the pods the plan stops and brings every host's
    load balancer to what runs. The pod lifecycle controller hears how its restarts went."""
    started = time.monotonic()
    controllers = prepared.controllers
    state, plan = prepared.load.state, prepared.result.plan
    reachable = [t for t in prepared.targets if _reachable(prepared.observations, t.name)]
    if controllers is not None:
        controllers.balancers.before(state, prepared.observations, plan, reachable, executor)
    if controllers is not None and controllers.hosts is not None:  # unknown until observed
        controllers.hosts.changing({action.host for action in plan.actions})
    results = executor.apply(plan, prepared.targets, progress)
    if controllers is not None:
        controllers.balancers.after(state, prepared.observations, results, reachable, executor)
    if controllers is not None and controllers.restarts is not None:
        for result in results:
            if result.action.kind is hoststate.ActionKind.RESTART:
                controllers.restarts.restarted(result)
    return Converged(prepared, results, time.monotonic() - started)
