"""`emptyDir` with `medium: Memory` and `sizeLimit`: checked and built. A Memory emptyDir is a
tmpfs of the one container that mounts it (Podman cannot share a tmpfs between a pod's
containers); a disk emptyDir (a Podman volume) takes no size limit. Called by `podchecks`, `build`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.model import diagnostics as dg
from reconciler.model import quantity

if TYPE_CHECKING:  # `checking` imports `subset`, which this module must not need
    from reconciler.manifests import checking
    from reconciler.manifests import positions as pos

Doc = dict[str, Any]
MEMORY = "Memory"


def check(checker: checking.Checker, path: pos.Path, spec: Doc) -> None:
    """Every emptyDir volume of the pod spec at `path`."""
    mounted: dict[str, int] = {}
    for container in spec["containers"]:
        for name in {m["name"] for m in container.get("volumeMounts") or []}:
            mounted[name] = mounted.get(name, 0) + 1
    for index, volume in enumerate(spec.get("volumes") or []):
        empty = volume.get("emptyDir")
        if empty is None:
            continue
        where = (*path, "volumes", index, "emptyDir")
        memory = empty.get("medium") == MEMORY
        if empty.get("sizeLimit") is not None and not memory:
            checker.error(
                (*where, "sizeLimit"),
                dg.Code.UNSUPPORTED_FIELD,
                "sizeLimit needs medium: Memory here: a disk emptyDir is a Podman volume, which "
                "rootless Podman cannot limit in size",
                "remove sizeLimit, or add medium: Memory (a tmpfs of that size)",
            )
        if memory and mounted.get(volume["name"], 0) > 1:
            checker.error(
                (*where, "medium"),
                dg.Code.UNSUPPORTED_FIELD,
                "a Memory emptyDir is a tmpfs of one container here; Podman cannot share a tmpfs "
                "between the containers of a pod",
                "mount it in one container only, or remove medium (a disk volume is shared)",
            )


def size_limit(empty: Doc) -> int | None:
    limit = empty.get("sizeLimit")
    return None if limit is None else quantity.memory_bytes(limit)
