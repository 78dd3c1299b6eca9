"""The pod operations on one host, as sequences of podman calls: observe, events, delete and
restart (create and replace are `podcreate`'s). Each runs synchronously in a worker thread with
a `HostSession`; `podman_ssh` fans them out across hosts and actions and turns their errors into
`ActionResult`s.

Safety rule kept here (`managed`, `owned_by`, shared with `podcreate`): only objects carrying
the managed-by label are ever changed or removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from reconciler.executor import (
    errors,
    hooklabels,
    hookrun,
    hostsession,
    initrun,
    observed,
    podevents,
    podmanspec,
)
from reconciler.model import hoststate

log = logging.getLogger(__name__)


MAX_GRACE_WAIT = 600
"""Seconds a pod stop may take beyond the command timeout (long grace periods)."""


def managed(labels: object) -> bool:
    return isinstance(labels, dict) and labels.get(hoststate.MANAGED_BY) == hoststate.MANAGER


def owned_by(labels: object, run: hoststate.PodRun) -> bool:
    """True for a managed object labelled with the run's namespace and name."""
    return (
        managed(labels)
        and isinstance(labels, dict)
        and labels.get(hoststate.LABEL_NAMESPACE) == run.namespace
        and labels.get(hoststate.LABEL_NAME) == run.name
    )


@contextlib.contextmanager
def pod_context(host: str, pod: str) -> Iterator[None]:
    """Give a failed podman/file operation the pod's context (OperationFailed ▶ PodError)."""
    try:
        yield
    except errors.OperationFailed as exc:
        if "address already in use" in exc.detail:  # a port: not a name (Podman says 409 too)
            raise errors.PodmanRequestFailed(
                host, pod, exc.operation, f"{exc.detail} (a port conflict: something else on the "
                "host holds that port; the next reconcile tries again)"
            ) from exc  # fmt: skip
        if exc.status == 409 or "already in use" in exc.detail or "already exists" in exc.detail:
            raise errors.PodmanRequestFailed(
                host, pod, exc.operation, f"{exc.detail} (a name conflict: an object with that "
                "name exists on the host; the reconciler leaves objects it did not create alone)"
            ) from exc  # fmt: skip
        raise errors.PodmanRequestFailed(host, pod, exc.operation, exc.detail) from exc


# ----- observe -----------------------------------------------------------------------------------


def observe(
    session: hostsession.HostSession, *, detail: bool = False
) -> tuple[hoststate.ObservedPod, ...]:
    """Every managed pod on the host, from two list calls.

    `detail` adds one inspect per app container, for what lists leave out (restart counts on
    Podman 4, start times to the nanosecond): `get` and `describe` show them, plans need none.
    """
    api = session.api
    managed = observed.managed_filter()
    for attempt in (1, 2):  # a pod removed while podman lists it can fail the listing: retry
        try:
            listing_pods = session.submit_read(api.list_pods, managed)
            containers = api.list_containers(managed)
            pods = listing_pods.result()
            break
        except errors.OperationFailed as exc:
            if attempt == 2:
                raise errors.PodmanFailed(session.target.name, "list pods", str(exc)) from exc
    if not detail:
        return observed.pods(session.target.name, pods, containers, {})
    ids = [str(c["Id"]) for c in observed.app_containers(containers)]
    inspected = session.map(lambda cid: _inspect_quietly(session, cid), ids)
    inspects = {cid: data for cid, data in zip(ids, inspected, strict=True) if data is not None}
    return observed.pods(session.target.name, pods, containers, inspects)


def _inspect_quietly(session: hostsession.HostSession, container_id: str) -> dict[str, Any] | None:
    """Inspect data, or None when the container vanished meanwhile (the list data then stands)."""
    try:
        return session.api.inspect_container(container_id)
    except errors.OperationFailed as exc:
        log.debug("host %s: inspect %s: %s", session.target.name, container_id, exc)
        return None


def events(
    session: hostsession.HostSession, pod: hoststate.ObservedPod, since_seconds: int
) -> list[hoststate.PodEvent]:
    """The pod's and its containers' events of the last `since_seconds`, oldest first (two
    calls in parallel: see `podevents`). Raises HostError, or OperationFailed from podman."""
    api = session.api
    since = f"{max(0, since_seconds)}s"
    of_pod = session.submit(api.events, podevents.pod_filter(pod), since)
    of_containers = api.events(podevents.container_filter(pod), since)
    return podevents.events(pod, [*of_pod.result(), *of_containers])


# ----- delete / replace --------------------------------------------------------------------------


def _dirs_from_labels(host: str, pod: str, labels: dict[str, str]) -> list[str]:
    raw = labels.get(podmanspec.LABEL_DIRS, "")
    try:
        listed = json.loads(raw) if raw else []
        return [podmanspec.normal_relative(str(d)) for d in listed]
    except (ValueError, TypeError) as exc:  # not written by us: remove nothing
        log.warning("host %s: pod %s: bad %s label (%s); its files are left",
                    host, pod, podmanspec.LABEL_DIRS, exc)  # fmt: skip
        return []


def delete_pod(
    session: hostsession.HostSession, pod: str, pod_id: str, known_labels: dict[str, str]
) -> str:
    """Remove a managed pod (by id), its emptyDir volumes and its file directories."""
    host = session.target.name
    with pod_context(host, pod):
        current = session.api.inspect_pod(pod_id)
    labels = dict(known_labels)
    if current is not None:
        labels = dict(current.get("Labels") or {})
        if not managed(labels):
            raise errors.NameConflict(host, pod, "podman pod", pod)
        with pod_context(host, pod):  # preStop hooks, within the grace period
            hookrun.pre_stop(session, pod, pod_id)
        with pod_context(host, pod):  # stop first: podman stops the containers in parallel
            # podman waits each container's own stop timeout (the pod's grace period);
            # the HTTP call may take that long on top of the command timeout.
            session.api.stop_pod(pod_id, max(session.options.stop_timeout, MAX_GRACE_WAIT))
            session.api.remove_pod(pod_id)
    else:
        with pod_context(host, pod):
            successor = session.api.inspect_pod(pod)
        if successor is not None:  # replaced meanwhile: its volumes and files are not ours
            return f"pod {pod} was already gone (a newer pod of that name is left alone)"
    dirs = _dirs_from_labels(host, pod, labels)
    namespace = labels.get(hoststate.LABEL_NAMESPACE, "")
    name = labels.get(hoststate.LABEL_NAME, "")
    with pod_context(host, pod):
        if namespace and name:
            extra = {hoststate.LABEL_NAMESPACE: namespace, hoststate.LABEL_NAME: name}
            for volume in session.api.list_volumes(observed.managed_filter(extra)):
                labels = volume.get("Labels") or {}  # Podman 4 ORs label filters: check all
                if all(labels.get(key) == value for key, value in extra.items()):
                    session.api.remove_volume(str(volume["Name"]))
        session.remove_dirs(dirs)
    gone = "removed" if current is not None else "was already gone; its leftovers removed"
    return f"pod {pod} {gone}"


def delete(session: hostsession.HostSession, pod: hoststate.ObservedPod) -> str:
    name = podmanspec.pod_name(pod.namespace, pod.name)
    return delete_pod(session, name, pod.podman_id or name, dict(pod.labels))


def restart(session: hostsession.HostSession, pod: hoststate.ObservedPod, container: str) -> str:
    """Restart the pod's container named `container` (the manifest's name): stopped first if it
    runs (a failed liveness probe), then started. Only a managed container labelled with the
    pod's namespace, name and that container name is touched."""
    host = session.target.name
    name = podmanspec.pod_name(pod.namespace, pod.name)
    if initrun.pending(pod):  # init containers: retried or carried on in order
        with pod_context(host, name):
            return initrun.advance(session, pod)
    found = next((c for c in pod.containers if c.name == container), None)
    if found is None:
        raise errors.PodmanRequestFailed(
            host, name, "restart container", f"the pod has no container {container!r}"
        )
    with pod_context(host, name):
        current = session.api.inspect_container(found.podman_id)
    if current is None:
        raise errors.PodmanRequestFailed(
            host, name, "restart container", f"container {container} no longer exists (its "
            "pod was removed or replaced meanwhile)",
        )  # fmt: skip
    labels = (current.get("Config") or {}).get("Labels") or {}
    if not managed(labels) or (
        labels.get(hoststate.LABEL_NAMESPACE),
        labels.get(hoststate.LABEL_NAME),
        labels.get(hoststate.LABEL_CONTAINER),
    ) != (pod.namespace, pod.name, container):
        raise errors.NameConflict(host, name, "podman container", str(current.get("Name", "")))
    hooks = hooklabels.decode(labels.get(hooklabels.LABEL_HOOKS, ""), container)
    with pod_context(host, name):
        failed = hookrun.before_restart(session, container, current, hooks)  # preStop
        session.api.restart_container(found.podman_id, MAX_GRACE_WAIT)
        failed += hookrun.post_start(session, name, [(container, found.podman_id, hooks)])
    return "; ".join([f"container {container} of pod {name} restarted", *failed])
