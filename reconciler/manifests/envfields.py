"""`env[].valueFrom.fieldRef` and `resourceFieldRef`: which pod fields and resources a variable
may take, checked with the reason when refused. Called by `podchecks` for every container;
`plan.podfields` gives the values.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from reconciler.model import diagnostics as dg
from reconciler.model import quantity

if TYPE_CHECKING:  # `checking` imports `subset`, which this module must not need
    from reconciler.manifests import checking
    from reconciler.manifests import positions as pos

Doc = dict[str, Any]
FIELD_PATHS = ("metadata.name", "metadata.namespace", "spec.nodeName", "status.hostIP",
               "status.podIP")  # fmt: skip
"""Plus `metadata.labels['KEY']`."""
LABEL_PATH = re.compile(r"^metadata\.labels\['([^']+)'\]$")
RESOURCES = ("limits.cpu", "limits.memory", "requests.cpu", "requests.memory")
_WHY_NOT = {
    "metadata.uid": "pods here have no uid",
    "spec.serviceAccountName": "there are no service accounts here",
    "status.podIPs": "use status.podIP",
    "status.hostIPs": "use status.hostIP",
}


def check(checker: checking.Checker, path: pos.Path, source: Doc, containers: list[Doc]) -> None:
    """One variable's `valueFrom` at `path` (fieldRef or resourceFieldRef, if any)."""
    field = source.get("fieldRef")
    if field is not None:
        wanted = field["fieldPath"]
        if wanted not in FIELD_PATHS and not LABEL_PATH.match(wanted):
            reason = _WHY_NOT.get(wanted, "reconciler does not provide it")
            checker.error(
                (*path, "fieldRef", "fieldPath"),
                dg.Code.UNSUPPORTED_FIELD,
                f"fieldPath {wanted} is not supported: {reason}",
                f"use one of {', '.join(FIELD_PATHS)}, metadata.labels['KEY']",
            )
    resource = source.get("resourceFieldRef")
    if resource is None:
        return
    if resource["resource"] not in RESOURCES:
        checker.error(
            (*path, "resourceFieldRef", "resource"),
            dg.Code.UNSUPPORTED_FIELD,
            f"resource {resource['resource']} is not supported",
            f"use one of {', '.join(RESOURCES)}",
        )
    name = resource.get("containerName")
    if name and name not in {c["name"] for c in containers}:
        checker.error(
            (*path, "resourceFieldRef", "containerName"),
            dg.Code.INVALID_VALUE,
            f"the pod has no container {name!r}",
            "name a container of this pod, or leave containerName out (this container)",
        )
    divisor = resource.get("divisor")
    if divisor is not None and quantity.parse(divisor) <= 0:
        checker.error(
            (*path, "resourceFieldRef", "divisor"),
            dg.Code.INVALID_VALUE,
            "divisor must be more than 0",
            "use 1, 1m, 1Mi, ...",
        )
