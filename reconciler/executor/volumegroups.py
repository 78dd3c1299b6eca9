"""A pod's `securityContext.fsGroup` on its volumes: after its containers are created and before
they start, `podcreate` calls `apply`, which gives the top directory of each emptyDir and claim
volume to the group, group-writable and setgid (mode 2775), as the kubelet does.

Rootless Podman's host user is root only inside its user namespace, so the change is made there,
by Podman: a one-entry tar archive (the directory itself, owner 0, group fsGroup) unpacked at
the volume's mount path of a container that mounts it read-write, with the entry's own owners
(`PodmanAPI.put_archive`). The volume was made with the same owner (`podmanspec.volume_owner`),
so Podman does not hand it to the container's user at the first start. Files already in a claim
keep their groups; new files inherit the group from the setgid directory.
"""

from __future__ import annotations

import io
import logging
import tarfile
import time
from typing import Protocol

from reconciler.executor import podmanspec
from reconciler.model import hoststate

log = logging.getLogger(__name__)

DIRECTORY_MODE = 0o2775
"""rwxrwsr-x: the group writes, and what is made inside belongs to the group (setgid)."""

_GROUPED = (hoststate.MountKind.VOLUME, hoststate.MountKind.CLAIM)


class ArchiveWriter(Protocol):
    def put_archive(self, container_id: str, path: str, archive: bytes) -> None: ...


def archive(gid: int, mtime: int) -> bytes:
    """A tar holding only `.`: a directory owned by 0:`gid` with `DIRECTORY_MODE`."""
    entry = tarfile.TarInfo(".")
    entry.type = tarfile.DIRTYPE
    entry.mode = DIRECTORY_MODE
    entry.uid, entry.gid = 0, gid
    entry.mtime = mtime
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(entry)
    return buffer.getvalue()


def targets(run: hoststate.PodRun) -> tuple[tuple[str, str], ...]:
    """(podman container name, mount path) of each emptyDir and claim volume of the run, in a
    container that mounts it read-write (the first one); () without fsGroup. A volume mounted
    only read-only is left alone: nothing in the pod writes it."""
    if run.fs_group is None:
        return ()
    found: dict[str, tuple[str, str]] = {}
    for container in (*run.init_containers, *run.containers):
        for mount in container.mounts:
            if mount.kind in _GROUPED and not mount.read_only and mount.source not in found:
                found[mount.source] = (podmanspec.container_name(run, container), mount.target)
    return tuple(found[name] for name in sorted(found))


def apply(api: ArchiveWriter, run: hoststate.PodRun, now: float | None = None) -> int:
    """Give the run's volumes to its fsGroup (see the module); the number of volumes changed.
    Raises the API's errors (`OperationFailed`): the create is then rolled back."""
    found = targets(run)
    if not found or run.fs_group is None:
        return 0
    data = archive(run.fs_group, int(time.time() if now is None else now))
    for container, path in found:
        api.put_archive(container, path, data)
    log.debug("host %s: pod %s: %d volume(s) given to group %d",
              run.host, run.podman_name, len(found), run.fs_group)  # fmt: skip
    return len(found)
