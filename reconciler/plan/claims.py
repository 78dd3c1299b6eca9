"""PersistentVolumeClaims in planning: where each claim's volume lives (observed), the scheduling
that keeps a pod on the host of its claims' data, and the `ClaimVolume`s attached to the runs.
Called by `pipeline.build_plan` in place of `binding.schedule`, then after `podrun.build`; last,
the claim volumes to reclaim (policy Delete, claim gone from git) join the plan.

A claim is bound to the host whose `podman volume ls` shows its volume. A pod that mounts a bound
claim may run on that host only (a node selector on a label only that host carries). A claim not
bound yet is bound where its first pod (by name) is placed; its other pods then follow it there.
When a host could not be read and no host that answered holds the volume, the claim is Lost for
now: its pods wait (unschedulable, with the reason) rather than start empty on another host.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.model import base, claims, hoststate, objects, workloads
from reconciler.plan import binding, expand
from reconciler.scheduler import result

PIN_LABEL = f"{base.API_GROUP}/claim-host"
"""A label every host carries (its own name) for scheduling only, never shown or matched by
users' selectors: a pod pinned to a claim's host selects it."""
LABEL_CLAIMS = f"{base.API_GROUP}/claims"
"""Pod label: the names of the claims (in the pod's namespace) it mounts."""
NOWHERE = ""
"""The pin of a pod that must wait: no host has this label value."""
_PASSES = 4
ClaimKey = tuple[str, str]


@dataclass(frozen=True)
class ClaimWait(result.Unschedulable):
    """An unschedulable pod that waits for the host of its claim's data; `why` says so."""

    why: str = ""

    @property
    def message(self) -> str:
        return f"{self.why}; {super().message}" if self.reasons else self.why


@dataclass(frozen=True)
class Locations:
    """Where claim volumes were seen: `holders` by (namespace, claim), sorted host names;
    `unread` the declared hosts that could not be read (they may hold any claim's data)."""

    holders: Mapping[ClaimKey, tuple[str, ...]]
    unread: tuple[str, ...] = ()
    found: tuple[claims.ObservedClaim, ...] = ()

    def status(self, key: ClaimKey) -> claims.Status:
        if self.holders.get(key):
            return claims.Status.BOUND
        return claims.Status.LOST if self.unread else claims.Status.PENDING


def locations(
    observations: Mapping[str, hoststate.HostObservation], hosts: Iterable[objects.Host] = ()
) -> Locations:
    holders: dict[ClaimKey, set[str]] = {}
    found = []
    for seen in observations.values():
        if seen.reachable:
            for claim in seen.claims:
                holders.setdefault(claim.key, set()).add(seen.host)
                found.append(claim)
    unread = {n for n, seen in observations.items() if not seen.reachable and not seen.empty}
    unread |= {h.meta.name for h in hosts} - set(observations)
    return Locations(
        {key: tuple(sorted(names)) for key, names in holders.items()},
        tuple(sorted(unread)),
        tuple(sorted(found, key=lambda c: (c.namespace, c.claim, c.host))),
    )


def claim_keys(pod: expand.DesiredPod) -> tuple[ClaimKey, ...]:
    return tuple(
        (pod.namespace, v.source)
        for v in pod.spec.volumes
        if v.type is workloads.VolumeType.PERSISTENT_VOLUME_CLAIM
    )


def _pin(keys: Sequence[ClaimKey], where: Locations, chosen: Mapping[ClaimKey, str]
         ) -> tuple[str | None, str]:  # fmt: skip
    """(host, "") for a pinned pod, (None, "") for a free one, (NOWHERE, why) for a waiting one."""
    hosts: dict[str, ClaimKey] = {}
    for key in keys:
        held = where.holders.get(key, ())
        name = f"PersistentVolumeClaim {key[0]}/{key[1]}"
        if len(held) > 1:
            return NOWHERE, (f"{name} has a volume on each of {', '.join(held)}: remove the "
                             "one that is not wanted (podman volume rm, as the host user)")
        if not held and key not in chosen and where.unread:
            return NOWHERE, (f"{name} was found on no host that answered; "
                             f"{', '.join(where.unread)} could not be read and may hold its "
                             "data: the pod waits for it (never moved to start empty)")
        host = held[0] if held else chosen.get(key)
        if host is not None:
            hosts.setdefault(host, key)
    if len(hosts) > 1:
        return NOWHERE, "its claims' data sits on different hosts (" + ", ".join(
            f"{k[1]} on {h}" for h, k in sorted(hosts.items())) + ")"
    if hosts:
        return next(iter(hosts)), ""
    return None, ""


def _pinned_pod(pod: expand.DesiredPod, host: str) -> expand.DesiredPod:
    selector = base.FrozenMap({**pod.spec.node_selector, PIN_LABEL: host})
    return dataclasses.replace(pod, spec=dataclasses.replace(pod.spec, node_selector=selector))


def _pinned_host(host: objects.Host) -> objects.Host:
    labels = base.FrozenMap({**host.meta.labels, PIN_LABEL: host.meta.name})
    return dataclasses.replace(host, meta=dataclasses.replace(host.meta, labels=labels))


def schedule(
    desired: objects.DesiredState,
    pods: Sequence[expand.DesiredPod],
    observations: Mapping[str, hoststate.HostObservation],
    kept: Iterable[hoststate.ObservedPod] = (),
) -> binding.Binding:
    """`binding.schedule` with every pod that mounts a claim kept on the host of its data."""
    kept = tuple(kept)
    if not any(claim_keys(pod) for pod in pods):
        return binding.schedule(desired.hosts, pods, observations, kept)
    where = locations(observations, desired.hosts)
    hosts = [_pinned_host(h) for h in desired.hosts]
    chosen: dict[ClaimKey, str] = {}
    for _ in range(_PASSES):
        waits: dict[str, str] = {}
        pinned = []
        for pod in pods:
            host, why = _pin(claim_keys(pod), where, chosen)
            if why:
                waits[binding.pod_key(pod.namespace, pod.name)] = why
            pinned.append(pod if host is None else _pinned_pod(pod, host))
        bound = binding.schedule(hosts, pinned, observations, kept)
        if not _bind_first(pods, where, chosen, bound.placement):
            break
    return dataclasses.replace(bound, placement=_explained(bound.placement, waits, pods, where))


def _bind_first(
    pods: Sequence[expand.DesiredPod],
    where: Locations,
    chosen: dict[ClaimKey, str],
    placement: result.Placement,
) -> bool:
    """Bind each unbound claim to the host of its first placed pod; True if a pod of such a
    claim went elsewhere (then another pass pins them all)."""
    again = False
    for pod in sorted(pods, key=lambda p: p.key):
        host = placement.host_of(binding.pod_key(pod.namespace, pod.name))
        if host is None:
            continue
        for key in claim_keys(pod):
            if where.holders.get(key):
                continue
            first = chosen.setdefault(key, host)
            again |= first != host
    return again


def _explained(
    placement: result.Placement,
    waits: Mapping[str, str],
    pods: Sequence[expand.DesiredPod],
    where: Locations,
) -> result.Placement:
    """Unschedulable pods with claims say which host holds their data."""
    uses = {binding.pod_key(p.namespace, p.name): claim_keys(p) for p in pods}
    out: list[result.Unschedulable] = []
    for entry in placement.unschedulable:
        why = waits.get(entry.pod, "")
        held = sorted({h for key in uses.get(entry.pod, ()) for h in where.holders.get(key, ())})
        if not why and held:
            why = (f"waits for host {held[0]}, which holds the data of its "
                   "PersistentVolumeClaim (a pod with a claim is never moved to another host)")
        out.append(ClaimWait(entry.pod, entry.hosts, entry.reasons, why) if why else entry)
    return dataclasses.replace(placement, unschedulable=tuple(out))


def attach(
    runs: Iterable[hoststate.PodRun], desired: objects.DesiredState
) -> list[hoststate.PodRun]:
    """Each run with the `ClaimVolume`s its mounts name (labels from the claim's manifest)."""
    by_volume = {c.volume_name: c for c in desired.claims}
    out = []
    for run in runs:
        names = sorted({m.source for c in run.containers for m in c.mounts
                        if m.kind is hoststate.MountKind.CLAIM})  # fmt: skip
        found = [by_volume[n] for n in names if n in by_volume]
        volumes = tuple(volume(c) for c in found)
        if volumes:  # the label (not hashed: the mounts are) tells a later plan what is in use
            mounted = ",".join(c.meta.name for c in found)
            labels = base.FrozenMap({**run.labels, LABEL_CLAIMS: mounted})
            run = dataclasses.replace(run, claims=volumes, labels=labels)  # noqa: PLW2901
        out.append(run)
    return out


def reclaimable(
    desired: objects.DesiredState, observations: Mapping[str, hoststate.HostObservation]
) -> tuple[claims.ObservedClaim, ...]:
    """Claim volumes to remove: reclaim policy Delete (recorded on the volume), the claim no
    longer in git, and no pod on the volume's host mounting it (a pod this plan deletes still
    counts: the volume goes in the next plan, once the pod is gone)."""
    declared = {(c.meta.namespace, c.meta.name) for c in desired.claims}
    out = []
    for seen in observations.values():
        if not seen.reachable:
            continue
        using = {(pod.namespace, name) for pod in seen.pods
                 for name in pod.labels.get(LABEL_CLAIMS, "").split(",") if name}  # fmt: skip
        out += [c for c in seen.claims if c.reclaim_policy is claims.ReclaimPolicy.DELETE
                and c.key not in declared and c.key not in using]  # fmt: skip
    return tuple(sorted(out, key=lambda c: (c.host, c.namespace, c.claim)))


def with_reclaims(
    plan: hoststate.Plan,
    desired: objects.DesiredState,
    observations: Mapping[str, hoststate.HostObservation],
) -> hoststate.Plan:
    found = reclaimable(desired, observations)
    return dataclasses.replace(plan, reclaims=found) if found else plan


def volume(claim: claims.PersistentVolumeClaim) -> claims.ClaimVolume:
    labels = {
        hoststate.MANAGED_BY: hoststate.MANAGER,
        hoststate.LABEL_NAMESPACE: claim.meta.namespace,
        claims.LABEL_CLAIM: claim.meta.name,
        claims.LABEL_CAPACITY: str(claim.storage_request),
        claims.LABEL_ACCESS_MODES: ",".join(claim.access_modes),
        claims.LABEL_STORAGE_CLASS: claim.storage_class,
        claims.LABEL_RECLAIM: claim.reclaim_policy.value,
    }
    return claims.ClaimVolume(
        claim.meta.namespace, claim.meta.name, claim.volume_name, base.FrozenMap(labels)
    )
