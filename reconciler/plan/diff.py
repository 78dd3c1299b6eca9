"""The plan: desired `PodRun`s against what hosts report, as create / replace / delete actions.
The last pure step of `pipeline.build_plan`; `executor.apply(plan)` carries it out.

- CREATE a desired pod that its host does not run; REPLACE it when the observed spec-hash label
  differs; leave it alone when equal. A pod bound to another host than the one running it is a
  DELETE there and a CREATE on the new host.
- DELETE (prune) managed pods that are not desired, and extra copies of a desired pod.
- Nothing is planned for an unreachable host: its pods are unknown, and unknown is not deleted.
  Neither is anything `held` (pods whose desired state could not be worked out this time).

Waves: a delete that frees a hostPort a new pod on its host needs runs in wave 0, so it finishes
before anything is created; everything else runs in wave 1 (a rollout's new pods need not wait
for old ones to stop). Within the plan, actions are listed by host, then deletes before replaces
before creates, then namespace and name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from reconciler.model import hoststate
from reconciler.plan import podrun

_ORDER = {
    hoststate.ActionKind.DELETE: 0,
    hoststate.ActionKind.REPLACE: 1,
    hoststate.ActionKind.CREATE: 2,
    hoststate.ActionKind.RESTART: 3,
}
WAVE_DELETE = 0
WAVE_START = 1


def compute(
    runs: Iterable[hoststate.PodRun],
    observations: Mapping[str, hoststate.HostObservation],
    held: frozenset[tuple[str, str]] = frozenset(),
    reasons: Mapping[tuple[str, str], str] | None = None,
    extra: Iterable[hoststate.Action] = (),
) -> hoststate.Plan:
    """The plan that makes reachable hosts run exactly `runs` (one run per namespace/name).
    `reasons` says why an undesired pod goes (default "not desired"); `extra` actions (container
    restarts) join the plan unless their pod is deleted or replaced by it: a container that is
    down is the pod lifecycle controller's to restart (with back-off), never a reason to replace
    an up-to-date pod."""
    reachable = {name for name, seen in observations.items() if seen.reachable}
    observed: dict[tuple[str, str], dict[str, hoststate.ObservedPod]] = {}
    for name in sorted(reachable):
        for pod in observations[name].pods:
            observed.setdefault(pod.key, {})[name] = pod

    actions: list[hoststate.Action] = []
    unchanged: list[tuple[str, str, str]] = []
    desired: set[tuple[str, str]] = set()
    for run in runs:
        key = (run.namespace, run.name)
        desired.add(key)
        copies = observed.get(key, {})
        if run.host not in reachable:
            continue  # not placed by the scheduler (it binds to ready hosts only); touch nothing
        for host, pod in copies.items():
            if host != run.host:
                reason = f"moved to {run.host}" if run.host not in copies else "extra copy"
                actions.append(_delete(pod, host, f"{reason} (desired on {run.host})"))
        current = copies.get(run.host)
        if current is None:
            elsewhere = sorted(set(copies) - {run.host})
            reason = f"moved from {', '.join(elsewhere)}" if elsewhere else "not running"
            actions.append(_action(hoststate.ActionKind.CREATE, run, None, reason))
        elif current.spec_hash != run.spec_hash:
            actions.append(
                _action(hoststate.ActionKind.REPLACE, run, current, _changed(current, run))
            )
        else:
            unchanged.append((run.host, run.namespace, run.name))

    for key, copies in observed.items():
        if key in desired or key in held:
            continue
        why = (reasons or {}).get(key, "not desired")
        for host, pod in copies.items():
            actions.append(_delete(pod, host, why))

    actions = _order(actions)
    touched = {(a.host, a.namespace, a.name) for a in actions}
    actions += [
        dataclasses.replace(a, wave=WAVE_START)
        for a in extra
        if (a.host, a.namespace, a.name) not in touched
    ]
    actions.sort(key=lambda a: (a.host, _ORDER[a.kind], a.namespace, a.name))
    return hoststate.Plan(actions=tuple(actions), unchanged=tuple(sorted(unchanged)))


def _order(actions: list[hoststate.Action]) -> list[hoststate.Action]:
    """Waves: a delete goes first (wave 0) only when a pod created or replaced on its host in
    this plan needs a hostPort it holds (or when its ports are unknown: no LABEL_HOST_PORTS);
    every other delete runs beside the creates (wave 1), so a rollout's new pods do not wait for
    old pods to stop. Nothing else needs the order: names are per pod, capacity is the
    scheduler's bookkeeping, probe ports are allocated around every observed pod."""
    needed: dict[str, set[str]] = {}
    for a in actions:
        if a.run is not None and a.kind is not hoststate.ActionKind.DELETE:
            needed.setdefault(a.host, set()).update(
                f"{p.host_port}/{p.protocol.upper()}" for p in a.run.ports
            )
    ordered = []
    for action in actions:
        if action.kind is hoststate.ActionKind.DELETE and action.observed is not None:
            label = action.observed.labels.get(hoststate.LABEL_HOST_PORTS)
            held = set(label.split(",")) - {""} if label is not None else None
            if held is not None and not held & needed.get(action.host, set()):
                action = dataclasses.replace(action, wave=WAVE_START)  # noqa: PLW2901
        ordered.append(action)
    return ordered


def _action(
    kind: hoststate.ActionKind,
    run: hoststate.PodRun,
    observed: hoststate.ObservedPod | None,
    reason: str,
) -> hoststate.Action:
    return hoststate.Action(
        kind=kind,
        host=run.host,
        namespace=run.namespace,
        name=run.name,
        run=run,
        observed=observed,
        reason=reason,
        wave=WAVE_START,
    )


def _delete(pod: hoststate.ObservedPod, host: str, reason: str) -> hoststate.Action:
    return hoststate.Action(
        kind=hoststate.ActionKind.DELETE,
        host=host,
        namespace=pod.namespace,
        name=pod.name,
        observed=pod,
        reason=reason,
        wave=WAVE_DELETE,
    )


def _changed(observed: hoststate.ObservedPod, run: hoststate.PodRun) -> str:
    """Why a pod is replaced: its missing containers (removed by hand, or a create cut short),
    else the parts of its spec that changed."""
    gone = sorted({c.name for c in run.containers} - {c.name for c in observed.containers})
    if gone and not observed.spec_hash:  # "": the executor found containers of its list gone
        return f"container{'s' if len(gone) > 1 else ''} {', '.join(gone)} missing"
    parts = podrun.changed_parts(observed, run)
    return f"spec changed: {', '.join(parts)}" if parts else "spec changed"
