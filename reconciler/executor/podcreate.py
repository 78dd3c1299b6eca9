"""Creating a pod on one host (and replacing one: new images first, then delete, then create),
as podman calls from a worker thread with a `HostSession`; `podman_ssh` dispatches CREATE and
REPLACE here, the other pod operations to `hostops`. Images are pulled (and checked) before
anything is torn down; a half-made pod is rolled back.
"""

from __future__ import annotations

import logging
import posixpath

from reconciler.executor import (
    claimvolumes,
    errors,
    hostops,
    hostsession,
    initrun,
    nonroot,
    podmanspec,
    pullauth,
    subpathdirs,
    volumegroups,
)
from reconciler.model import hoststate

log = logging.getLogger(__name__)


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
                raise errors.ImagePullError.never_pulled(run.host, run.podman_name, image)
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
    with hostops.pod_context(run.host, pod):
        existing = session.api.inspect_pod(pod)
    if existing is not None:
        labels = (existing.get("Labels") or {}) if isinstance(existing, dict) else {}
        if not hostops.managed(labels):
            raise errors.NameConflict(run.host, pod, "podman pod", pod)
        if labels.get(hoststate.LABEL_SPEC_HASH) == run.spec_hash and _complete(existing, run):
            return f"pod {pod} already exists with this spec"
        hostops.delete_pod(session, pod, str(existing.get("Id", pod)), labels)
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
            with hostops.pod_context(run.host, run.podman_name):
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
        with hostops.pod_context(run.host, run.podman_name):
            found = session.api.inspect_volume(volume)
        if found is not None:
            if not hostops.owned_by(found.get("Labels") or {}, run):
                raise errors.NameConflict(run.host, run.podman_name, "podman volume", volume)
            with hostops.pod_context(run.host, run.podman_name):  # this pod's leftover: empty
                session.api.remove_volume(volume)
        with hostops.pod_context(run.host, run.podman_name):
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
        with hostops.pod_context(run.host, pod):
            session.write_files(run.files)
            claimvolumes.prepare(session, run)  # kept with their data: never emptied
        _prepare_volumes(session, run)
        with hostops.pod_context(run.host, pod):
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
        with hostops.pod_context(run.host, pod):
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
            if found is not None and hostops.owned_by(found.get("Labels") or {}, run):
                session.api.remove_volume(volume)
        session.remove_dirs(podmanspec.file_dirs(run))
    except errors.ExecutorError as exc:
        log.warning("host %s: rolling back pod %s failed: %s", run.host, run.podman_name, exc)



def replace(
    session: hostsession.HostSession, run: hoststate.PodRun, old: hoststate.ObservedPod
) -> str:
    """New images first (a failed pull leaves the old pod running), then delete, then create."""
    podmanspec.validate(run)
    check_host_paths(session, run)
    pull_images(session, run)
    nonroot.check(session.api, run)  # refused: the old pod keeps running
    hostops.delete(session, old)
    report = create(session, run, prepared=True)
    return report.replace("created and started", "replaced and started", 1)
