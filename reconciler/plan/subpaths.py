"""`volumeMounts[].subPath` and `subPathExpr` resolved for one mount, called by
`volumes.container_mounts`: the path (an expression expanded from the container's env), then
what it means for the volume's kind. configMap and secret volumes bind only that file or
directory of the files written for the volume; hostPath binds the joined path; an emptyDir or
claim volume keeps the path in `Mount.sub_path`, and `executor.subpathdirs` makes it on the host.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence

from reconciler.manifests import subpathchecks
from reconciler.model import hoststate, workloads
from reconciler.plan import env, podfields, refs

Kind = hoststate.MountKind


def relative(mount: workloads.VolumeMount, values: Mapping[str, str], path: str) -> str:
    """The mount's subPath, normalized ("" for none, or one that names the whole volume).
    Raises `refs.ResolveError` at `path` (the volumeMounts entry) when it cannot be used."""
    if mount.sub_path and mount.sub_path_expr:
        raise refs.ResolveError(
            f"{path}.subPathExpr", "subPath and subPathExpr are both set", "keep one of them"
        )
    field, value = "subPath", mount.sub_path
    if mount.sub_path_expr:
        field, value = "subPathExpr", _expand(mount.sub_path_expr, values, f"{path}.subPathExpr")
    if not value:
        return ""
    why = subpathchecks.problem(value)
    if why:
        raise refs.ResolveError(
            f"{path}.{field}",
            f"{field} {value!r} {why}",
            "write a path inside the volume, such as `data` or `conf/app.ini`",
        )
    normal = posixpath.normpath(value)
    return "" if normal == "." else normal


def _expand(expression: str, values: Mapping[str, str], path: str) -> str:
    for name, value in values.items():
        if f"$({name})" not in expression:
            continue
        if isinstance(value, podfields.HostField):
            raise refs.ResolveError(
                path,
                f"subPathExpr uses $({name}), whose value depends on the pod's host "
                f"({value.path}), which is not known when the mounts are resolved",
                "use a variable of metadata.name, metadata.namespace, a label or a literal value",
            )
        if isinstance(value, hoststate.Sensitive):
            raise refs.ResolveError(
                path,
                f"subPathExpr uses $({name}), a Secret value: a path on the host is not secret",
                "take the path from a literal value, a ConfigMap or a fieldRef",
            )
    return env.expand_references(expression, values)


def mount(
    kind: hoststate.MountKind,
    source: str,
    sub_path: str,
    *,
    target: str,
    read_only: bool,
    files: Sequence[hoststate.HostFile],
    path: str,
) -> hoststate.Mount:
    """The host mount of `sub_path` of a volume (`kind`, `source` as `volumes.VolumeSource`);
    `files` are the pod's written files (configMap and secret volumes)."""
    if kind is Kind.BIND:  # configMap / secret: a file, or a directory of items paths
        joined = f"{source}/{sub_path}"
        if not any(f.path == joined or f.path.startswith(joined + "/") for f in files):
            raise refs.ResolveError(
                f"{path}.subPath",
                f"subPath {sub_path!r} is no file (key or items[].path) and no directory of "
                "the volume (Kubernetes would mount an empty directory there)",
                "name one of the volume's keys, or an items[].path or its directory",
            )
        return hoststate.Mount(kind, joined, target, read_only)
    if kind is Kind.HOST_PATH:
        return hoststate.Mount(kind, posixpath.join(source, sub_path), target, read_only)
    if kind is Kind.TMPFS:  # a tmpfs of this container alone: its subdirectory is a fresh one
        return hoststate.Mount(kind, source, target, read_only)
    return hoststate.Mount(kind, source, target, read_only, sub_path)
