"""A pod's supplementary groups (`securityContext.fsGroup`, `supplementalGroups`): the range
checks, and warnings where fsGroup cannot reach a volume. Called by `podchecks.pod_spec`; the
model is built by `securitycontext.build`, carried out by `executor.volumegroups`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.model import diagnostics as dg

if TYPE_CHECKING:  # `checking` imports `subset`
    from reconciler.manifests import checking
    from reconciler.manifests import positions as pos

MAX_GID = 65535
"""Rootless Podman maps the container's group ids 0-65535 (0 is the host user, the rest its
/etc/subgid range of 65536 ids): a larger id has no group on the host to become."""

Doc = dict[str, Any]


def check(checker: checking.Checker, path: pos.Path, spec: Doc) -> None:
    """The pod spec at `path`: its securityContext's groups and the volumes fsGroup misses."""
    context = spec.get("securityContext")
    if not isinstance(context, dict):
        return
    where = (*path, "securityContext")
    fs_group = context.get("fsGroup")
    if isinstance(fs_group, int):
        _gid(checker, (*where, "fsGroup"), fs_group)
    for index, gid in enumerate(context.get("supplementalGroups") or []):
        if isinstance(gid, int):
            _gid(checker, (*where, "supplementalGroups", index), gid)
    if fs_group is None:
        return
    for index, volume in enumerate(spec.get("volumes") or []):
        if not isinstance(volume, dict):
            continue
        vpath = (*path, "volumes", index)
        empty_dir = volume.get("emptyDir")
        if isinstance(empty_dir, dict) and empty_dir.get("medium") == "Memory":
            checker.warn(
                (*vpath, "emptyDir", "medium"),
                dg.Code.IGNORED_FIELD,
                "fsGroup does not reach a Memory emptyDir: Podman's tmpfs cannot be given to a "
                "group; it is writable by every user (mode 1777), and files made there get the "
                "process's own group",
                "use a disk emptyDir (no medium) for files that must belong to fsGroup",
            )
        secret = volume.get("secret")
        if isinstance(secret, dict) and "defaultMode" not in secret:
            checker.warn(
                (*vpath, "secret"),
                dg.Code.IGNORED_FIELD,
                "fsGroup does not reach secret files: they belong to the container's root with "
                "mode 0600 here, so a non-root user cannot read them",
                "set defaultMode: 0644 (Kubernetes' default) if a non-root user reads them",
            )


def _gid(checker: checking.Checker, path: pos.Path, gid: int) -> None:
    if 0 <= gid <= MAX_GID:
        return
    checker.error(
        path,
        dg.Code.INVALID_VALUE,
        f"group id {gid} is outside 0-{MAX_GID}: rootless Podman maps only those group ids of "
        "a container (the host user's /etc/subgid range)",
        f"use a group id from 0 to {MAX_GID}",
    )
