"""Host health in one reconcile: three steps of `sync.STEPS`. `assess` (after observe) sorts the
hosts that did not answer into unknown (within the grace period, or a one-shot command that
cannot know better) and lost (NotReady, from `hosthealth.Monitor`), sets aside the hosts being
fenced, and has each Deployment reconciled for the replicas it has on hosts that answer while a
host is unknown (nothing is re-placed); `hold` (after the Deployment controller) never
re-places a bare Pod; `fence` (after the plan) adds the
removal of a returned host's stale Deployment pods, in the plan's first wave.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.controllers import hostconditions, hosthealth
from reconciler.model import base, hoststate, objects, workloads
from reconciler.plan import diff, expand

if TYPE_CHECKING:
    from reconciler.controllers import sync

log = logging.getLogger(__name__)
_disruption = [False]  # the last judgement, so that only a change is logged
FENCED = "fenced: its host was lost and the pod re-placed elsewhere"
DRAINED = "drained: its host is being drained"
UNHEALTHY_THRESHOLD = 0.55
"""Kubernetes' `--unhealthy-zone-threshold`: with more than 2 hosts not Ready and at least this
share of all hosts, or with no host Ready at all, the fleet is disrupted and nothing is
re-placed (see `disrupted`)."""


@dataclass
class HostView:
    """What `assess` found, for `hold` and `fence`."""

    unknown: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    fencing: dict[str, hoststate.HostObservation] = field(default_factory=dict)
    stale: dict[str, tuple[hoststate.ObservedPod, ...]] = field(default_factory=dict)
    """A fencing host's Deployment pods that run elsewhere now: removed by `fence`."""
    held: list[str] = field(default_factory=list)  # "Deployment ns/name", "Pod ns/name"
    evicted: list[tuple[hoststate.ObservedPod, str]] = field(default_factory=list)
    """Pods hidden from this pass (a drain moves them): deleted by `fence`, with the reason."""
    waiting_drain: list[str] = field(default_factory=list)

    @property
    def down(self) -> set[str]:
        return self.unknown | self.lost | set(self.fencing)


def _monitor(p: sync.Pass) -> hosthealth.Monitor | None:
    return p.controllers.hosts if p.controllers is not None else None


def stale(
    seen: hoststate.HostObservation, elsewhere: set[tuple[str, str]]
) -> tuple[hoststate.ObservedPod, ...]:
    """A returned host's pods that were re-placed while it was lost: its Deployment pods that
    now run on another host (`elsewhere`: the pod keys other hosts answered with). One that was
    not re-placed (nowhere to go, or a disrupted fleet held it) is the live copy: kept."""
    return tuple(pod for pod in seen.pods if pod.owner and pod.key in elsewhere)


def _keys_elsewhere(p: sync.Pass, fencing: set[str]) -> dict[str, set[tuple[str, str]]]:
    """For each fencing host, the keys of the pods that hosts answering normally run."""
    normal = {name: {pod.key for pod in seen.pods} for name, seen in p.observations.items()
              if seen.reachable and name not in fencing}  # fmt: skip
    every = set().union(*normal.values()) if normal else set()
    return {name: every for name in fencing}


def assess(p: sync.Pass) -> None:
    """Sort the hosts by health; a fencing host is not planned for (see `fence`)."""
    monitor = _monitor(p)
    conditions = monitor.conditions() if monitor is not None else {}
    view = HostView()
    calm = monitor is None or not disrupted(p.observations)
    returning = {name for name, seen in p.observations.items() if seen.reachable
                 and (c := conditions.get(name)) is not None
                 and c.reason is hostconditions.Reason.FENCING}  # fmt: skip
    elsewhere = _keys_elsewhere(p, returning)
    for name, seen in list(p.observations.items()):
        condition = conditions.get(name)
        if not seen.reachable:
            lost = seen.empty or (calm and condition is not None and condition.lost)
            (view.lost if lost else view.unknown).add(name)
        elif name in returning:
            copies = stale(seen, elsewhere[name])
            if not copies and monitor is not None:
                monitor.fenced(name)
                continue
            view.fencing[name] = seen
            view.stale[name] = copies
            p.observations[name] = hoststate.HostObservation(
                name, reachable=False,
                error=f"host {name}: fencing: removing {len(copies)} stale pod(s) first",
            )  # fmt: skip
    p.hosts = view
    _shrink(p, view)


def disrupted(observations: dict[str, hoststate.HostObservation]) -> bool:
    """True when so many hosts are silent at once that the trouble is more likely this machine's
    own network or load than the hosts: then, as Kubernetes' node lifecycle controller does in a
    fully or partially disrupted zone of a small cluster, no pod is re-placed (the lost hosts are
    held as if Unknown) until enough hosts answer again. A host that answered without Podman
    (`empty`) is known to be unusable and does not count."""
    down = [name for name, seen in observations.items() if not seen.reachable and not seen.empty]
    total = len(observations)
    full = bool(down) and len(down) == total
    partial = len(down) > 2 and len(down) / max(total, 1) >= UNHEALTHY_THRESHOLD
    now = full or partial
    if now != _disruption[0]:
        _disruption[0] = now
        if now:
            log.warning("%d of %d hosts do not answer: the fleet is disrupted; no pod is "
                        "re-placed until more of them answer (is this machine's network or load "
                        "the trouble?)", len(down), total)  # fmt: skip
        else:
            log.info("the fleet is no longer disrupted: %d of %d hosts do not answer",
                     len(down), total)  # fmt: skip
    return now


def _contents(p: sync.Pass, host: str) -> tuple[hoststate.ObservedPod, ...] | None:
    seen = p.observations.get(host)
    if seen is not None and seen.empty:
        return ()  # it answered: no Podman, so no pod of ours
    monitor = _monitor(p)
    return monitor.last_pods(host) if monitor is not None else None


def hold(p: sync.Pass) -> None:
    """Bare Pods are never re-placed: one not seen on a host that answers is not created while
    a host that ran it (or, not knowing what a host ran, any host) is down. Then every host that
    did not answer is told what is held for it."""
    view = p.hosts
    if view is None or not view.down:
        return
    desired = p.loaded.state
    observed = [pod for seen in p.observations.values() if seen.reachable for pod in seen.pods]
    expansion = p.expansion or expand.Expansion(expand.expand(desired, observed))
    seen_keys = {pod.key for pod in observed}
    bare: set[tuple[str, str]] = set()
    blind = False
    for host in sorted(view.down):
        pods = _contents(p, host)
        if pods is None:
            blind = True
        else:
            bare.update(pod.key for pod in pods if not pod.owner)
    held_bare = {pod.key for pod in expansion.pods if not pod.owner and pod.key not in seen_keys
                 and (blind or pod.key in bare)}  # fmt: skip
    if held_bare:
        wanted_now = tuple(pod for pod in expansion.pods if pod.key not in held_bare)
        p.expansion = expand.Expansion(wanted_now, expansion.kept, expansion.reasons)
        view.held += sorted(f"Pod {ns}/{name}" for ns, name in held_bare)
    if not view.held:
        return
    note = f"; held until it answers or is NotReady: {', '.join(view.held)}"
    for host in view.unknown:
        seen = p.observations[host]
        p.observations[host] = dataclasses.replace(seen, error=seen.error.rstrip(".") + note)


def _shrink(p: sync.Pass, view: HostView) -> None:
    """While a host is unknown, each Deployment is reconciled for the replicas it has on hosts
    that answer (those it ran there, when the monitor knows; else at most what answering hosts
    run): nothing is re-placed, and a change (a new template) still rolls over those pods."""
    monitor = _monitor(p)
    memory = monitor.shrunk if monitor is not None else {}
    if not view.unknown:
        memory.clear()
        return
    state = p.loaded.state
    visible = collections.Counter(
        (pod.namespace, pod.owner)
        for seen in p.observations.values() if seen.reachable for pod in seen.pods if pod.owner
    )  # fmt: skip
    elsewhere: collections.Counter[tuple[str, str]] = collections.Counter()
    blind = False
    for host in view.unknown:
        pods = _contents(p, host)
        if pods is None:
            blind = True
        else:
            elsewhere.update((pod.namespace, pod.owner) for pod in pods if pod.owner)
    counts: dict[base.ObjectKey, int] = {}
    for deployment in state.deployments:
        key = (deployment.meta.namespace, expand.owner_of(deployment))
        wanted = max(0, deployment.replicas)
        if blind:  # what answering hosts ran when it started (a rollout's surge pods aside)
            now = memory.setdefault(key, min(wanted, visible[key]))
        else:
            now = max(0, wanted - elsewhere[key])
        if now < wanted:
            counts[deployment.key] = now
            view.held.append(f"Deployment {key[0]}/{deployment.meta.name} ({now} of {wanted} "
                             "replicas, on hosts that answer)")  # fmt: skip
    if counts:
        shrunk = {key: dataclasses.replace(obj, replicas=counts[key])
                  if key in counts and isinstance(obj, workloads.Deployment) else obj
                  for key, obj in state.objects.items()}  # fmt: skip
        p.loaded = dataclasses.replace(
            p.loaded, state=objects.DesiredState(base.FrozenMap(shrunk))
        )


def fence(p: sync.Pass) -> None:
    """The stale copies of every fencing host are removed first (wave 0); the host itself got
    nothing in this plan (it was not Ready for the scheduler). So are pods a drain moves."""
    view = p.hosts
    if view is None or p.result is None or getattr(p, "held", None):
        return
    if not view.fencing and not view.evicted:
        return
    actions = list(p.result.plan.actions)
    actions += [_delete(pod, reason) for pod, reason in view.evicted]
    for name, seen in sorted(view.fencing.items()):
        copies = view.stale.get(name, ())
        actions += [_delete(pod, FENCED) for pod in copies]
        rest = tuple(pod for pod in seen.pods if pod not in copies)
        p.observations[name] = dataclasses.replace(seen, pods=rest)
    actions.sort(key=lambda a: a.wave)  # stable: the planner's order within a wave
    plan = dataclasses.replace(p.result.plan, actions=tuple(actions))
    unreachable = tuple(n for n in p.result.unreachable if n not in view.fencing)
    p.result = dataclasses.replace(p.result, plan=plan, unreachable=unreachable)


def _delete(pod: hoststate.ObservedPod, reason: str) -> hoststate.Action:
    return hoststate.Action(kind=hoststate.ActionKind.DELETE, host=pod.host,
                            namespace=pod.namespace, name=pod.name, observed=pod, reason=reason,
                            wave=diff.WAVE_DELETE)  # fmt: skip
