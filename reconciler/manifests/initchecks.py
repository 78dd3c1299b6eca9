"""Checks of a pod spec's `initContainers` (the same checks as containers: name, image, env,
resources, mounts, securityContext; names unique across init and app containers; no Memory
emptyDir, which is a tmpfs of one container) and of every container's `lifecycle` hooks.

Called once per pod spec by `podchecks.pod_spec`; probes, lifecycle and ports of an init
container are refused by the subset schema already.
"""

from __future__ import annotations

from reconciler.manifests import (
    checking,
    emptydir,
    hookchecks,
    imageref,
    podchecks,
    securitycontext,
)
from reconciler.manifests import positions as pos
from reconciler.model import diagnostics as dg

Doc = checking.Doc


def check(checker: checking.Checker, path: pos.Path, spec: Doc, volume_names: set[str]) -> None:
    """`initContainers` of the pod spec at `path`, and the hooks of its containers."""
    containers: list[Doc] = spec["containers"]
    for index, container in enumerate(containers):
        hookchecks.check(checker, (*path, "containers", index), container)
    inits: list[Doc] = spec.get("initContainers") or []
    if not inits:
        return
    checker.unique((*path, "initContainers"), inits, "name", "init container name")
    app_names = {c["name"] for c in containers}
    memory = {
        v["name"] for v in spec.get("volumes") or []
        if (v.get("emptyDir") or {}).get("medium") == emptydir.MEMORY
    }  # fmt: skip
    for index, container in enumerate(inits):
        cpath = (*path, "initContainers", index)
        checker.name((*cpath, "name"), container["name"], label=True, what="container name")
        if container["name"] in app_names:
            checker.error(
                (*cpath, "name"),
                dg.Code.DUPLICATE_NAME,
                f"init container name {container['name']!r} is also a container's name",
                "give every init container and container its own name (Kubernetes' rule)",
            )
        imageref.check(checker, (*cpath, "image"), container["image"])
        podchecks.check_env(checker, cpath, container, [*inits, *containers])
        podchecks.check_resources(checker, (*cpath, "resources"), container.get("resources") or {})
        podchecks.check_mounts(checker, cpath, container, volume_names)
        for mindex, mount in enumerate(container.get("volumeMounts") or []):
            if mount["name"] in memory:
                checker.error(
                    (*cpath, "volumeMounts", mindex, "name"),
                    dg.Code.UNSUPPORTED_FIELD,
                    f"volume {mount['name']!r} is a Memory emptyDir: a tmpfs of one container "
                    "here, so an init container cannot hand files to the containers through it",
                    "remove medium: Memory from the volume (a disk volume is shared)",
                )
        securitycontext.check(
            checker, (*cpath, "securityContext"), container.get("securityContext"),
            spec.get("securityContext"),
        )  # fmt: skip
