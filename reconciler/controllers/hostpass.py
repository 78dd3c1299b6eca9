"""Host health in one reconcile: three steps of `sync.STEPS`. `assess` (after observe) sorts the
hosts that did not answer into unknown (within the grace period, or a one-shot command that
cannot know better) and lost (NotReady, from `hosthealth.Monitor`), and sets aside the hosts
being fenced; `hold` (after the Deployment controller) keeps every workload that may have pods
on an unknown host as it is, and never re-places a bare Pod; `fence` (after the plan) adds the
removal of a returned host's stale Deployment pods, in the plan's first wave.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.controllers import hosthealth
from reconciler.model import hoststate
from reconciler.plan import diff, expand

if TYPE_CHECKING:
    from reconciler.controllers import sync

FENCED = "fenced: its host was lost and the pod re-placed elsewhere"
DRAINED = "drained: its host is being drained"


@dataclass
class HostView:
    """What `assess` found, for `hold` and `fence`."""

    unknown: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    fencing: dict[str, hoststate.HostObservation] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)  # "Deployment ns/name", "Pod ns/name"
    evicted: list[tuple[hoststate.ObservedPod, str]] = field(default_factory=list)
    """Pods hidden from this pass (a drain moves them): deleted by `fence`, with the reason."""
    waiting_drain: list[str] = field(default_factory=list)

    @property
    def down(self) -> set[str]:
        return self.unknown | self.lost | set(self.fencing)


def _monitor(p: sync.Pass) -> hosthealth.Monitor | None:
    return p.controllers.hosts if p.controllers is not None else None


def stale(seen: hoststate.HostObservation) -> tuple[hoststate.ObservedPod, ...]:
    """A returned host's pods that were re-placed while it was lost: its Deployment pods."""
    return tuple(pod for pod in seen.pods if pod.owner)


def assess(p: sync.Pass) -> None:
    """Sort the hosts by health; a fencing host is not planned for (see `fence`)."""
    monitor = _monitor(p)
    conditions = monitor.conditions() if monitor is not None else {}
    view = HostView()
    for name, seen in list(p.observations.items()):
        condition = conditions.get(name)
        if not seen.reachable:
            (view.lost if condition is not None and condition.lost else view.unknown).add(name)
        elif condition is not None and condition.reason is hosthealth.Reason.FENCING:
            copies = stale(seen)
            if not copies and monitor is not None:
                monitor.fenced(name)
                continue
            view.fencing[name] = seen
            p.observations[name] = hoststate.HostObservation(
                name, reachable=False,
                error=f"host {name}: fencing: removing {len(copies)} stale pod(s) first",
            )  # fmt: skip
    p.hosts = view


def _contents(p: sync.Pass, host: str) -> tuple[hoststate.ObservedPod, ...] | None:
    monitor = _monitor(p)
    return monitor.last_pods(host) if monitor is not None else None


def hold(p: sync.Pass) -> None:
    """Workloads that may have pods on an unknown host change nothing (no pod created, none
    removed): a Deployment with pods there (any that wants a new pod, when what the host ran is
    not known); a bare Pod not seen on a host that answers, while any host is down."""
    view = p.hosts
    if view is None or not view.down:
        return
    desired = p.loaded.state
    observed = [pod for seen in p.observations.values() if seen.reachable for pod in seen.pods]
    expansion = p.expansion or expand.Expansion(expand.expand(desired, observed))
    seen_keys = {pod.key for pod in observed}
    owners: set[tuple[str, str]] = set()
    bare: set[tuple[str, str]] = set()
    blind_owners = blind_bare = False
    for host in sorted(view.down):
        pods = _contents(p, host)
        if pods is None:
            blind_bare = True
            blind_owners = blind_owners or host in view.unknown
            continue
        bare.update(pod.key for pod in pods if not pod.owner)
        if host in view.unknown:
            owners.update((pod.namespace, pod.owner) for pod in pods if pod.owner)
    if blind_owners:
        owners.update((pod.namespace, pod.owner) for pod in expansion.pods
                      if pod.owner and pod.key not in seen_keys)  # fmt: skip
    held_bare = {pod.key for pod in expansion.pods if not pod.owner and pod.key not in seen_keys
                 and (blind_bare or pod.key in bare)}  # fmt: skip
    wanted = {(pod.namespace, pod.owner) for pod in expansion.pods if pod.owner}
    owners &= wanted
    if not owners and not held_bare:
        return
    wanted_now = tuple(
        pod for pod in expansion.pods
        if (pod.namespace, pod.owner) not in owners and pod.key not in held_bare
    )  # fmt: skip
    kept_keys = {pod.key for pod in expansion.kept}
    kept = expansion.kept + tuple(pod for pod in observed if (pod.namespace, pod.owner) in owners
                                  and pod.key not in kept_keys)  # fmt: skip
    p.expansion = expand.Expansion(wanted_now, kept, expansion.reasons)
    view.held = sorted(f"{owner.replace('/', ' ' + ns + '/', 1)}" for ns, owner in owners)
    view.held += sorted(f"Pod {ns}/{name}" for ns, name in held_bare)
    note = f"; held until it answers or is NotReady: {', '.join(view.held)}"
    for host in view.unknown:
        seen = p.observations[host]
        p.observations[host] = dataclasses.replace(seen, error=seen.error + note)


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
        copies = stale(seen)
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
