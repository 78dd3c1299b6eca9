"""The pod operations on one host, as sequences of podman calls: observe, create, replace and
delete. Each runs synchronously in a worker thread with a `HostSession`; `podman_ssh` fans them
out across hosts and actions and turns their errors into `ActionResult`s.

Safety rules kept here: only objects carrying the managed-by label are ever changed or removed;
images are pulled (and checked) before anything is torn down; a half-made pod is rolled back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import posixpath
from collections.abc import Iterator
from typing import Any

from reconciler.executor import (
    claimvolumes,
    errors,
    hooklabels,
    hookrun,
    hostsession,
    initrun,
    nonroot,
    observed,
    podevents,
    podmanspec,
    pullauth,
    subpathdirs,
    volumegroups,
)
from reconciler.model import hoststate

log = logging.getLogger(__name__)


MAX_GRACE_WAIT = 600
"""Seconds a pod stop may take beyond the command timeout (long grace periods)."""


def _managed(labels: object) -> bool:
    return isinstance(labels, dict) and labels.get(hoststate.MANAGED_BY) == hoststate.MANAGER


def _owned_by(labels: object, run: hoststate.PodRun) -> bool:
    """True for a managed object labelled with the run's namespace and name."""
    return (
        _managed(labels)
        and isinstance(labels, dict)
        and labels.get(hoststate.LABEL_NAMESPACE) == run.namespace
        and labels.get(hoststate.LABEL_NAME) == run.name
    )


@contextlib.contextmanager
def _pod_context(host: str, pod: str) -> Iterator[None]:
    """Give a failed podman/file operation the pod's context (OperationFailed ▶ PodError)."""
    try:
        yield
    except errors.OperationFailed as exc:
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


# ----- images ------------------------------------------------------------------------------------


def pull_images(session: hostsession.HostSession, run: hoststate.PodRun) -> None:
    """Make every image of the pod present per its imagePullPolicy (ImagePullError if not)."""
    for image, policy in podmanspec.images(run):
        if policy != "Always":
            try:
                present = session.image_present(image)
            except errors.OperationFailed as exc:
                raise errors.ImagePullError(run.host, run.podman_name, image, exc.detail) from exc
            if present:
                continue
            if policy == "Never":
                raise errors.ImagePullError(
                    run.host, run.podman_name, image,
                    "it is not present on the host and imagePullPolicy is Never",
                )  # fmt: skip
        try:
            pullauth.pull(session.api, image, run.pull_credentials)
        except errors.OperationFailed as exc:
            detail = pullauth.without_login(image, exc.detail)
            raise errors.ImagePullError(run.host, run.podman_name, image, detail) from exc
        session.image_seen(image)


# ----- create ------------------------------------------------------------------------------------


def create(
    session: hostsession.HostSession, run: hoststate.PodRun, *, prepared: bool = False
) -> str:
    """Create and start the pod; returns a short report. Raises PodError/HostError.

    `prepared`: the run was already validated, its host paths checked and its images pulled.
    """
    if not prepared:
        podmanspec.validate(run)
        check_host_paths(session, run)
        pull_images(session, run)
        nonroot.check(session.api, run)
    pod = run.podman_name
    if pod_first(run):
        try:
            return _assemble(session, run, optimistic=True)
        except _NameTakenError:  # made since the plan's observation: decided below, as ever
            log.debug("host %s: pod %s exists already: inspecting it", run.host, pod)
    with _pod_context(run.host, pod):
        existing = session.api.inspect_pod(pod)
    if existing is not None:
        labels = (existing.get("Labels") or {}) if isinstance(existing, dict) else {}
        if not _managed(labels):
            raise errors.NameConflict(run.host, pod, "podman pod", pod)
        if labels.get(hoststate.LABEL_SPEC_HASH) == run.spec_hash and _complete(existing, run):
            return f"pod {pod} already exists with this spec"
        delete_pod(session, pod, str(existing.get("Id", pod)), labels)
    return _assemble(session, run)


class _NameTakenError(Exception):
    """Podman refused the pod create with 409: a pod of that name exists (not an executor
    error: nothing was made, nothing is rolled back; `create` inspects it and decides)."""


def pod_first(run: hoststate.PodRun) -> bool:
    """Whether the pod create is the first change `_assemble` makes (no files, volumes or
    claims). Then no inspect is needed first: Podman refuses a taken name with 409 before
    anything is touched, and `create` inspects and decides only then, as it would have from
    an inspect made first. Runs with files or volumes (touched before the pod) inspect first."""
    return not (run.files or run.volumes or run.claims)


def check_host_paths(session: hostsession.HostSession, run: hoststate.PodRun) -> None:
    """Every hostPath must exist and be its own real path: a symlink could lead a mount out of
    the allow-listed prefix that the planner checked lexically."""
    for container in run.containers:
        for mount in container.mounts:
            if mount.kind is not hoststate.MountKind.HOST_PATH:
                continue
            with _pod_context(run.host, run.podman_name):
                real = session.realpath(mount.source)
            wanted = posixpath.normpath(mount.source)
            if real is None:
                missing = f"hostPath {mount.source!r} does not exist on the host"
                raise errors.InvalidRun(run.host, run.podman_name, missing)
            if real != wanted:
                raise errors.InvalidRun(
                    run.host, run.podman_name,
                    f"hostPath {mount.source!r} resolves to {real!r} through a symbolic link; "
                    "refused (mount the real path, if it is allowed)",
                )  # fmt: skip


def _complete(pod: dict[str, object], run: hoststate.PodRun) -> bool:
    """True when the pod (inspect data) has as many app containers as the run."""
    infra = pod.get("InfraContainerID")
    listed = pod.get("Containers")
    containers = listed if isinstance(listed, list) else []
    apps = [c for c in containers if isinstance(c, dict) and c.get("Id") != infra]
    return len(apps) == len(run.containers) + len(run.init_containers)


def _prepare_volumes(session: hostsession.HostSession, run: hoststate.PodRun) -> None:
    for volume in run.volumes:
        with _pod_context(run.host, run.podman_name):
            found = session.api.inspect_volume(volume)
        if found is not None:
            if not _owned_by(found.get("Labels") or {}, run):
                raise errors.NameConflict(run.host, run.podman_name, "podman volume", volume)
            with _pod_context(run.host, run.podman_name):  # a leftover of this pod: start empty
                session.api.remove_volume(volume)
        with _pod_context(run.host, run.podman_name):
            session.api.create_volume(podmanspec.volume_spec(run, volume))


def _assemble(
    session: hostsession.HostSession, run: hoststate.PodRun, *, optimistic: bool = False
) -> str:
    """Files, volumes, pod, containers, start: all undone if any step fails (a pod that
    cannot start is not left behind looking up to date; the next reconcile retries it).
    `optimistic` (no inspect made first): a pod create refused with 409 raises `_NameTakenError`."""
    pod = run.podman_name
    created_pod = False
    warnings: list[str] = []
    try:
        with _pod_context(run.host, pod):
            session.write_files(run.files)
            claimvolumes.prepare(session, run)  # kept with their data: never emptied
        _prepare_volumes(session, run)
        with _pod_context(run.host, pod):
            mounted = subpathdirs.bind(session.api.inspect_volume, session.make_subpath, run)
            try:
                session.api.create_pod(podmanspec.pod_spec(run))
            except errors.OperationFailed as exc:
                if optimistic and exc.status == 409:
                    raise _NameTakenError(pod) from exc
                raise
            created_pod = True
            for container in mounted.containers:  # subPaths of volumes bound from the host
                spec = podmanspec.container_spec(
                    mounted, container, session.connection.state_dir, session.options.stop_timeout
                )
                _, found = session.api.create_container(spec)
                warnings.extend(w for w in found if w not in warnings)
            state_dir, timeout = session.connection.state_dir, session.options.stop_timeout
            for spec in initrun.create_specs(mounted, state_dir, timeout):  # initContainers
                _, found = session.api.create_container(spec)
                warnings.extend(w for w in found if w not in warnings)
            volumegroups.apply(session.api, run)  # fsGroup: before the containers start
        with _pod_context(run.host, pod):
            try:
                started = initrun.start_pod(session, run)  # init containers, postStart hooks
            except errors.OperationFailed as exc:
                raise errors.OperationFailed(
                    "start pod", f"{exc.detail} (the pod was removed again; the next reconcile "
                    "tries anew)"
                ) from exc  # fmt: skip
    except errors.ExecutorError:
        _rollback(session, run, created_pod)
        raise
    for warning in warnings:
        session.warn_once(warning)
    report = f"pod {pod} created and started ({len(run.containers)} container(s))"
    if started:
        report += f"; {started}"
    if warnings:
        report += "; podman warned: " + "; ".join(warnings)
    return report


def _rollback(session: hostsession.HostSession, run: hoststate.PodRun, created_pod: bool) -> None:
    """Undo a partial create (best effort; a HostError during rollback is left to the caller)."""
    if session.broken:
        return
    try:
        if created_pod:
            session.api.remove_pod(run.podman_name)
        for volume in run.volumes:
            found = session.api.inspect_volume(volume)
            if found is not None and _owned_by(found.get("Labels") or {}, run):
                session.api.remove_volume(volume)
        session.remove_dirs(podmanspec.file_dirs(run))
    except errors.ExecutorError as exc:
        log.warning("host %s: rolling back pod %s failed: %s", run.host, run.podman_name, exc)


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
    with _pod_context(host, pod):
        current = session.api.inspect_pod(pod_id)
    labels = dict(known_labels)
    if current is not None:
        labels = dict(current.get("Labels") or {})
        if not _managed(labels):
            raise errors.NameConflict(host, pod, "podman pod", pod)
        with _pod_context(host, pod):  # preStop hooks, within the grace period
            hookrun.pre_stop(session, pod, pod_id)
        with _pod_context(host, pod):  # stop first: podman stops the containers in parallel
            # podman waits each container's own stop timeout (the pod's grace period);
            # the HTTP call may take that long on top of the command timeout.
            session.api.stop_pod(pod_id, max(session.options.stop_timeout, MAX_GRACE_WAIT))
            session.api.remove_pod(pod_id)
    else:
        with _pod_context(host, pod):
            successor = session.api.inspect_pod(pod)
        if successor is not None:  # replaced meanwhile: its volumes and files are not ours
            return f"pod {pod} was already gone (a newer pod of that name is left alone)"
    dirs = _dirs_from_labels(host, pod, labels)
    namespace = labels.get(hoststate.LABEL_NAMESPACE, "")
    name = labels.get(hoststate.LABEL_NAME, "")
    with _pod_context(host, pod):
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
        with _pod_context(host, name):
            return initrun.advance(session, pod)
    found = next((c for c in pod.containers if c.name == container), None)
    if found is None:
        raise errors.PodmanRequestFailed(
            host, name, "restart container", f"the pod has no container {container!r}"
        )
    with _pod_context(host, name):
        current = session.api.inspect_container(found.podman_id)
    if current is None:
        raise errors.PodmanRequestFailed(
            host, name, "restart container", f"container {container} no longer exists (its "
            "pod was removed or replaced meanwhile)",
        )  # fmt: skip
    labels = (current.get("Config") or {}).get("Labels") or {}
    if not _managed(labels) or (
        labels.get(hoststate.LABEL_NAMESPACE),
        labels.get(hoststate.LABEL_NAME),
        labels.get(hoststate.LABEL_CONTAINER),
    ) != (pod.namespace, pod.name, container):
        raise errors.NameConflict(host, name, "podman container", str(current.get("Name", "")))
    hooks = hooklabels.decode(labels.get(hooklabels.LABEL_HOOKS, ""), container)
    with _pod_context(host, name):
        failed = hookrun.before_restart(session, container, current, hooks)  # preStop
        session.api.restart_container(found.podman_id, MAX_GRACE_WAIT)
        failed += hookrun.post_start(session, name, [(container, found.podman_id, hooks)])
    return "; ".join([f"container {container} of pod {name} restarted", *failed])


def replace(
    session: hostsession.HostSession, run: hoststate.PodRun, old: hoststate.ObservedPod
) -> str:
    """New images first (a failed pull leaves the old pod running), then delete, then create."""
    podmanspec.validate(run)
    check_host_paths(session, run)
    pull_images(session, run)
    nonroot.check(session.api, run)  # refused: the old pod keeps running
    delete(session, old)
    report = create(session, run, prepared=True)
    return report.replace("created and started", "replaced and started", 1)
