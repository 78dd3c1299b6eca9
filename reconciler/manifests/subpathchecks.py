"""`volumeMounts[].subPath` and `subPathExpr` of containers and init containers, checked as the
Kubernetes API server checks them: a relative path without `..` parts, and not both fields. Called
by `podchecks.check_mounts`; `plan.subpaths` resolves them for each volume kind.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from reconciler.model import base
from reconciler.model import diagnostics as dg

if TYPE_CHECKING:  # `checking` imports `subset`, which this module must not need
    from reconciler.manifests import checking
    from reconciler.manifests import positions as pos

Doc = dict[str, Any]
FIELDS = ("subPath", "subPathExpr")


def problem(value: str) -> str:
    """Why `value` is not a local descending path ("" when it is one): Kubernetes' rule."""
    if "\x00" in value:
        return "contains a NUL character"
    if value.startswith("/"):
        return "must be a relative path (it is absolute)"
    if ".." in value.split("/"):
        return "must not contain '..' (it would leave the volume)"
    return ""


def check(checker: checking.Checker, path: pos.Path, mount: Doc) -> None:
    """Errors at the mount's subPath/subPathExpr (`path` is the volumeMounts entry)."""
    if mount.get("subPath") and mount.get("subPathExpr"):
        checker.error(
            (*path, "subPathExpr"),
            dg.Code.INVALID_VALUE,
            "subPath and subPathExpr are both set; they are mutually exclusive",
            "keep one of them",
        )
    for name in FIELDS:
        value = mount.get(name)
        if not isinstance(value, str) or not value:
            continue
        why = problem(value)
        if why:
            checker.error(
                (*path, name),
                dg.Code.INVALID_VALUE,
                f"{name} {value!r} {why}",
                "write a path inside the volume, such as `data` or `conf/app.ini`",
            )


def check_sources(checker: checking.Checker, path: pos.Path, spec: Doc) -> None:
    """A subPath into a configMap or secret volume must name one of its files (a key, or an
    `items[].path` or a directory of them): Kubernetes would mount an empty directory, which is
    not built here. A key is checked against the object as a reference (a warning when the
    object is in the repository and lacks it, as for `items[].key`)."""
    volumes = {v.get("name"): v for v in spec.get("volumes") or [] if isinstance(v, dict)}
    for group in ("initContainers", "containers"):
        for cindex, container in enumerate(spec.get(group) or []):
            for mindex, mount in enumerate(container.get("volumeMounts") or []):
                sub_path = mount.get("subPath")
                volume = volumes.get(mount.get("name"))
                if not isinstance(sub_path, str) or not sub_path or volume is None:
                    continue
                where = (*path, group, cindex, "volumeMounts", mindex, "subPath")
                _check_source(checker, where, sub_path, volume)


def _check_source(checker: checking.Checker, where: pos.Path, sub_path: str, volume: Doc) -> None:
    kinds = {"configMap": base.Kind.CONFIG_MAP, "secret": base.Kind.SECRET}
    field = next((k for k in kinds if isinstance(volume.get(k), dict)), None)
    if field is None or problem(sub_path):
        return
    sub_path = posixpath.normpath(sub_path)  # as `plan.subpaths` reads it
    source: Doc = volume[field]
    items = [i.get("path") for i in source.get("items") or [] if isinstance(i, dict)]
    name = source.get("name" if field == "configMap" else "secretName")
    if items:
        if any(p == sub_path or str(p).startswith(sub_path + "/") for p in items):
            return
        listed = ", ".join(str(p) for p in items)
        checker.error(
            where,
            dg.Code.INVALID_VALUE,
            f"subPath {sub_path!r} is no file or directory of volume {volume.get('name')!r} "
            f"(its items' paths: {listed}); Kubernetes would mount an empty directory, which is "
            "not built here",
            "name one of the items' paths, or a directory of them",
        )
    elif "/" in sub_path:
        checker.error(
            where,
            dg.Code.INVALID_VALUE,
            f"subPath {sub_path!r} is no key of the {field} of volume {volume.get('name')!r} "
            "(a key has no '/'); Kubernetes would mount an empty directory, which is not built "
            "here",
            "name one of its keys, or give the volume items with paths",
        )
    elif isinstance(name, str) and name:
        optional = bool(source.get("optional"))
        checker.refer(where, kinds[field], name, key=sub_path, optional=optional, key_only=True)
