"""The one pure function `reconciler diff` and the daemon both call: desired state and host
observations in, a `PlanResult` out (the plan, where each pod goes, what could not be placed or
resolved). Steps: expand, resolve, schedule (sticky), build the `PodRun`s, compute the plan.

A desired pod that cannot be resolved (a missing ConfigMap, a refused hostPath) is not run, and
nothing it replaces is deleted: its own observed copies, and for a Deployment every observed pod
of that Deployment, are held (left as they are) until a later revision can resolve it. So a
broken change never takes down what runs. A pod that cannot be placed holds its own copies; in
the end state (no controllers' expansion) it holds its whole Deployment too, while a rollout
step's removals go ahead (the Deployment controller keeps them within maxUnavailable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.model import diagnostics, hoststate, objects
from reconciler.plan import (
    binding,
    claims,
    diff,
    discovery,
    expand,
    headless,
    hostsfile,
    impliedports,
    podports,
    podrun,
    probeports,
    refs,
    resolve,
    runcache,
)
from reconciler.scheduler import result


@dataclass(frozen=True)
class PlanResult:
    """Everything one planning pass found. `placements` maps "namespace/name" to its host;
    `held` are (namespace, name) of observed pods kept as they are because of a problem."""

    plan: hoststate.Plan
    revision: str
    runs: tuple[hoststate.PodRun, ...] = ()
    placements: Mapping[str, str] = field(default_factory=dict)
    unschedulable: tuple[result.Unschedulable, ...] = ()
    errors: tuple[diagnostics.Diagnostic, ...] = ()
    held: tuple[tuple[str, str], ...] = ()
    unreachable: tuple[str, ...] = ()
    waits: tuple[tuple[str, str, str], ...] = ()
    """(object, field path, what is missing) per object whose pods wait for a ConfigMap, Secret,
    key or claim nothing declares (`controllers.status.wait_events`)."""

    def unschedulable_messages(self) -> dict[str, str]:
        """Pod key -> Kubernetes-style reason, e.g. `0/3 hosts: 3 insufficient cpu`."""
        return {entry.pod: entry.message for entry in self.unschedulable}


def build_plan(
    desired: objects.DesiredState,
    observations: Mapping[str, hoststate.HostObservation],
    revision: str,
    policy: resolve.Policy | None = None,
    *,
    expansion: expand.Expansion | None = None,
    restarts: tuple[hoststate.Action, ...] = (),
    run_cache: runcache.RunCache | None = None,
) -> PlanResult:
    """Plan one reconcile. `observations` are keyed by host name; `revision` goes on new pods'
    labels only (it is not part of the spec hash). `expansion` is what the controllers want now
    (a rollout step); without it, the end state: every pod of every object at once (`diff`).
    `restarts` are the pod lifecycle controller's container restarts (a container that is down
    is restarted, never replaced with its pod). `run_cache`: the last plan's runs, reused for pods
    built from equal inputs (the same result; a long-lived process keeps one)."""
    policy = policy or resolve.Policy()
    observed = [pod for seen in observations.values() if seen.reachable for pod in seen.pods]
    rollout = expansion is not None
    if expansion is None:
        expansion = expand.Expansion(expand.expand(desired, observed))
    pods = expansion.pods
    kept = {pod.key for pod in expansion.kept}

    resolved: list[resolve.ResolvedPod] = []
    errors: list[diagnostics.Diagnostic] = []
    waits: set[tuple[str, str, str]] = set()
    failed: set[tuple[str, str]] = set()
    for pod in pods:
        try:
            resolved.append(resolve.resolve(pod, desired, policy))
        except refs.ResolveError as exc:
            failed.add(pod.key)
            errors.append(_diagnostic(pod, exc))
            if exc.code is diagnostics.Code.MISSING_REFERENCE:
                waits.add((str(pod.object_key), exc.path, exc.message))

    bound = claims.schedule(desired, [r.pod for r in resolved], observations, expansion.kept)
    errors.extend(bound.errors)
    failed |= bound.refused
    runs = []
    hosts = {h.meta.name: h for h in desired.hosts}  # for env values that depend on the host
    build = run_cache.build if run_cache is not None else podrun.build
    if run_cache is not None:
        run_cache.begin()
    unplaced: set[tuple[str, str]] = set()
    for item in resolved:
        host = bound.placement.host_of(binding.pod_key(item.pod.namespace, item.pod.name))
        if host is None:
            unplaced.add(item.pod.key)
        else:
            runs.append(build(item, host, revision, hosts.get(host)))
    if run_cache is not None:
        run_cache.end()

    specs = {  # with the ports its Services target, declared or not (as in Kubernetes)
        item.pod.key: impliedports.with_targeted(item.pod, desired.services) for item in resolved
    }
    runs = list(podports.allocate(runs, specs, observations))  # declared ports, for Services
    runs = list(probeports.allocate(runs, observations))  # where probes reach their ports
    runs = list(discovery.attach(runs, desired))  # Service variables and names (not hashed)
    runs = list(hostsfile.attach(runs, desired, headless.sections(  # headless names
        desired, observations, (run.namespace for run in runs))))  # fmt: skip
    runs = claims.attach(runs, desired)  # the claim volumes the executor makes if missing
    if rollout:  # the controllers decided which old pods go, within the rollout's budget
        held = _held(pods, failed, observed) | unplaced | kept
    else:
        held = _held(pods, failed | unplaced, observed)
    plan = diff.compute(
        runs, observations, held, expansion.reasons, restarts
    )
    plan = claims.with_reclaims(plan, desired, observations)  # reclaim policy Delete
    return PlanResult(
        plan=plan,
        revision=revision,
        runs=tuple(runs),
        placements=dict(bound.placement.bindings),
        unschedulable=bound.placement.unschedulable,
        errors=tuple(sorted(set(errors))),
        held=tuple(sorted((held - kept) & {pod.key for pod in observed})),
        unreachable=tuple(sorted(n for n, seen in observations.items() if not seen.reachable)),
        waits=tuple(sorted(waits)),
    )


def _held(
    pods: tuple[expand.DesiredPod, ...],
    failed: set[tuple[str, str]],
    observed: list[hoststate.ObservedPod],
) -> frozenset[tuple[str, str]]:
    owners = {(pod.namespace, pod.owner) for pod in pods if pod.key in failed and pod.owner}
    return frozenset(failed) | {
        pod.key for pod in observed if pod.owner and (pod.namespace, pod.owner) in owners
    }


def _diagnostic(pod: expand.DesiredPod, exc: refs.ResolveError) -> diagnostics.Diagnostic:
    return diagnostics.Diagnostic(
        file=pod.source.file if pod.source else "",
        line=pod.source.line if pod.source else 0,
        column=1 if pod.source else 0,
        path=exc.path,
        message=f"{pod.object_key}: {exc.message}",
        hint=exc.hint,
        code=exc.code,
    )
