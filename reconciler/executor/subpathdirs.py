"""`subPath` mounts of emptyDir and claim volumes on the host. Podman 4.3 has no `subpath`
option for named volumes, so `podcreate` calls `bind` between making the pod's volumes and
creating its containers: each subPath is made below the volume's mount point over SFTP (`make`,
as the host user, which is root in the container) and mounted as a bind of that host path.

`make` refuses a symbolic link anywhere on the path (a container could have placed one to lead
the mount out of its volume), as the kubelet does; a link placed between the check and the
container's start is not caught (the kubelet pins the path with a file descriptor).
"""

from __future__ import annotations

import dataclasses
import posixpath
import stat
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import asyncssh

from reconciler.executor import errors
from reconciler.model import hoststate

EMPTY_DIR_MODE = 0o777
"""A new subdirectory of an emptyDir: world-writable, as Kubernetes' emptyDir (the kubelet gives a
subPath it makes its volume's mode); a claim's takes its volume's top directory's mode."""

_VOLUMES = (hoststate.MountKind.VOLUME, hoststate.MountKind.CLAIM)


class SFTP(Protocol):
    """What `make` uses of asyncssh's SFTP client."""

    async def lstat(self, path: str) -> Any: ...
    async def mkdir(self, path: str) -> None: ...
    async def chmod(self, path: str, mode: int) -> None: ...


Inspect = Callable[[str], "dict[str, Any] | None"]
"""`PodmanAPI.inspect_volume`."""
Maker = Callable[[str, str, "int | None"], str]
"""`HostSession.make_subpath`: `make` on the host."""


def wanted(run: hoststate.PodRun) -> tuple[tuple[hoststate.Mount, int | None], ...]:
    """Each distinct (volume, subPath) of the run's containers and init containers, with the
    mode of a directory made for it (None: its volume's own), sorted."""
    found: dict[tuple[str, str], tuple[hoststate.Mount, int | None]] = {}
    for container in (*run.init_containers, *run.containers):
        for mount in container.mounts:
            if mount.sub_path and mount.kind in _VOLUMES:
                mode = EMPTY_DIR_MODE if mount.kind is hoststate.MountKind.VOLUME else None
                found.setdefault((mount.source, mount.sub_path), (mount, mode))
    return tuple(found[key] for key in sorted(found))


def bind(inspect: Inspect, maker: Maker, run: hoststate.PodRun) -> hoststate.PodRun:
    """The run with each subPath mount of a volume made on the host and turned into a bind of
    its host path (the run itself when it has none). Raises `errors.OperationFailed`."""
    paths: dict[tuple[str, str], str] = {}
    for mount, mode in wanted(run):
        found = inspect(mount.source)
        point = found.get("Mountpoint") if found is not None else None
        if not isinstance(point, str) or not posixpath.isabs(point):
            raise errors.OperationFailed(
                f"subPath {mount.sub_path}", f"volume {mount.source} has no mount point"
            )
        paths[(mount.source, mount.sub_path)] = maker(point, mount.sub_path, mode)
    return bound(run, paths) if paths else run


def bound(run: hoststate.PodRun, paths: Mapping[tuple[str, str], str]) -> hoststate.PodRun:
    """The run with every subPath mount of a volume in `paths` ((volume, subPath) -> host path)
    turned into a bind of that host path (a `HOST_PATH` mount, which Podman binds as it is)."""

    def one(mount: hoststate.Mount) -> hoststate.Mount:
        path = paths.get((mount.source, mount.sub_path)) if mount.sub_path else None
        if path is None or mount.kind not in _VOLUMES:
            return mount
        return hoststate.Mount(hoststate.MountKind.HOST_PATH, path, mount.target, mount.read_only)

    def each(containers: tuple[hoststate.ContainerRun, ...]) -> tuple[hoststate.ContainerRun, ...]:
        return tuple(
            dataclasses.replace(c, mounts=tuple(one(m) for m in c.mounts)) for c in containers
        )

    return dataclasses.replace(
        run, containers=each(run.containers), init_containers=each(run.init_containers)
    )


async def make(sftp: SFTP, base: str, relative: str, mode: int | None) -> str:
    """Make `relative` (normalized, no `..`) below the directory `base` as directories of `mode`
    (None: `base`'s own); an existing directory is kept, and an existing file as the last part
    is mounted as one (as Kubernetes does). Returns the host path. Raises
    `errors.OperationFailed` for a symbolic link or a file on the way, `asyncssh.SFTPError`
    for what SFTP refuses."""
    operation = f"making subPath {relative}"
    root = await sftp.lstat(base)
    if not stat.S_ISDIR(root.permissions or 0):
        raise errors.OperationFailed(operation, f"the volume's mount point {base} is no directory")
    dir_mode = stat.S_IMODE(root.permissions) if mode is None else mode
    current, parts = base, relative.split("/")
    for index, part in enumerate(parts):
        if part in ("", ".", ".."):
            raise errors.OperationFailed(operation, "the path must be normalized, without '..'")
        current = posixpath.join(current, part)
        shown = "/".join(parts[: index + 1])
        kind = await _kind(sftp, current)
        if kind is None:
            try:
                await sftp.mkdir(current)
            except asyncssh.SFTPFailure:  # made meanwhile (another pod of the claim)?
                kind = await _kind(sftp, current)
                if kind is None or not stat.S_ISDIR(kind):
                    raise
                continue
            await sftp.chmod(current, dir_mode)  # exactly: mkdir's mode passes the umask
            continue
        if stat.S_ISLNK(kind):
            raise errors.OperationFailed(
                operation, f"{shown} is a symbolic link in the volume: refused (it could lead "
                "the mount out of the volume)",
            )  # fmt: skip
        if stat.S_ISDIR(kind) or (stat.S_ISREG(kind) and index == len(parts) - 1):
            continue
        raise errors.OperationFailed(operation, f"{shown} exists in the volume and is no directory")
    return current


async def _kind(sftp: SFTP, path: str) -> int | None:
    """The file type bits of `path` (not followed), None when it does not exist."""
    try:
        attrs = await sftp.lstat(path)
    except asyncssh.SFTPNoSuchFile:
        return None
    return stat.S_IFMT(attrs.permissions or 0)
