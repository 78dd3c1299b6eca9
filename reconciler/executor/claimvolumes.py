"""The Podman named volumes that back PersistentVolumeClaims on one host: listed with every
observe (`observe`; a session's last list is reused for REUSE_FOR seconds while the executor
changed nothing), made before a pod that mounts one is created (`prepare`, never emptied), and
removed only when the plan reclaims a claim whose policy is Delete (`remove`).

Only volumes carrying the managed-by and claim labels are ever touched; a volume of that name
made by someone else is a name conflict, never adopted.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable

from reconciler.executor import errors, hostsession, observed, podmanspec
from reconciler.model import base, claims, hoststate

log = logging.getLogger(__name__)

REUSE_FOR = 60.0
"""Seconds a session's last claim-volume list stands for while the executor made no change on
any host (its `stats.mutations` unchanged): only this executor makes or removes claim volumes,
so a no-op pass need not ask again (2 list calls a host instead of 3)."""
Listed = tuple[int, float, tuple[claims.ObservedClaim, ...]]  # mutations, when, the claims
_LISTED: weakref.WeakKeyDictionary[hostsession.HostSession, Listed] = weakref.WeakKeyDictionary()
_LISTED_LOCK = threading.Lock()


def _filter() -> dict[str, list[str]]:
    found = observed.managed_filter()
    found["label"].append(claims.LABEL_CLAIM)  # the key alone: any claim
    return found


def observe(
    session: hostsession.HostSession, clock: Callable[[], float] = time.monotonic
) -> tuple[claims.ObservedClaim, ...]:
    """Every claim volume on the host (one list call, or none: see REUSE_FOR). Raises
    PodmanFailed."""
    mutations = session.stats.mutations
    with _LISTED_LOCK:
        known = _LISTED.get(session)
    if known is not None and known[0] == mutations and clock() - known[1] < REUSE_FOR:
        return known[2]
    try:
        listed = session.api.list_volumes(_filter())
    except errors.OperationFailed as exc:
        raise errors.PodmanFailed(session.target.name, "list volumes", str(exc)) from exc
    found = parse(session.target.name, listed)
    with _LISTED_LOCK:
        _LISTED[session] = (mutations, clock(), found)
    return found


def parse(host: str, listed: list[dict[str, object]]) -> tuple[claims.ObservedClaim, ...]:
    out = []
    for entry in listed:
        labels = entry.get("Labels")
        if not isinstance(labels, dict) or labels.get(hoststate.MANAGED_BY) != hoststate.MANAGER:
            continue
        namespace = str(labels.get(hoststate.LABEL_NAMESPACE, ""))
        claim = str(labels.get(claims.LABEL_CLAIM, ""))
        name = str(entry.get("Name", ""))
        if not namespace or not claim or name != claims.volume_name(namespace, claim):
            continue  # not one we made: left alone
        out.append(claims.ObservedClaim(
            namespace, claim, name, host,
            base.FrozenMap({str(k): str(v) for k, v in labels.items()}),
            str(entry.get("CreatedAt", "")),
        ))  # fmt: skip
    return tuple(sorted(out, key=lambda c: c.key))


def _ours(found: dict[str, object], volume: claims.ClaimVolume) -> bool:
    labels = found.get("Labels")
    return (
        isinstance(labels, dict)
        and labels.get(hoststate.MANAGED_BY) == hoststate.MANAGER
        and labels.get(hoststate.LABEL_NAMESPACE) == volume.namespace
        and labels.get(claims.LABEL_CLAIM) == volume.claim
    )


def prepare(session: hostsession.HostSession, run: hoststate.PodRun) -> None:
    """Make each claim volume of the run that does not exist yet (with its labels); an existing
    one is kept as it is, with its data. Raises PodError (a name conflict) or OperationFailed."""
    for volume in run.claims:
        found = session.api.inspect_volume(volume.volume)
        if found is not None:
            if not _ours(found, volume):
                raise errors.NameConflict(run.host, run.podman_name, "podman volume",
                                          volume.volume)  # fmt: skip
            continue
        try:
            spec = {"Name": volume.volume, "Label": dict(volume.labels)}
            session.api.create_volume({**spec, **podmanspec.volume_owner(run)})  # fsGroup
        except errors.OperationFailed as exc:  # another pod of the claim made it meanwhile
            again = session.api.inspect_volume(volume.volume)
            if again is None or not _ours(again, volume):
                raise
            log.debug("host %s: volume %s made meanwhile (%s)", run.host, volume.volume, exc)
            continue
        log.info("host %s: made volume %s of PersistentVolumeClaim %s/%s",
                 run.host, volume.volume, volume.namespace, volume.claim)  # fmt: skip


def remove(session: hostsession.HostSession, claim: claims.ObservedClaim) -> str:
    """Remove a reclaimed claim volume (policy Delete, claim gone from git) if it is still ours
    and no container uses it. Raises OperationFailed."""
    found = session.api.inspect_volume(claim.volume)
    if found is None:
        return f"volume {claim.volume} was already gone"
    wanted = claims.ClaimVolume(claim.namespace, claim.claim, claim.volume)
    if not _ours(found, wanted):
        return f"volume {claim.volume} is not the claim's volume; left alone"
    users = session.api.list_containers({"volume": [claim.volume]})
    if users:  # never forced out from under a container (the removal below forces)
        return f"volume {claim.volume} is still used by {len(users)} container(s); kept for now"
    session.api.remove_volume(claim.volume)
    return f"volume {claim.volume} of PersistentVolumeClaim {claim.namespace}/{claim.claim} removed"
