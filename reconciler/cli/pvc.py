"""`reconciler get pvc`: the PersistentVolumeClaims of the repository with where their data is
(the host whose Podman volume backs each), plus the claim volumes found on hosts whose claim is
no longer in git (Orphaned: kept, unless their reclaim policy was Delete). kubectl's columns.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from reconciler.model import claims, hoststate, objects, quantity
from reconciler.plan import claims as planclaims

NAMES = {"pvc": "pvc", "persistentvolumeclaim": "pvc", "persistentvolumeclaims": "pvc"}
"""`get` resource names for PersistentVolumeClaims."""
COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "STATUS": "status", "VOLUME": "volume",
           "CAPACITY": "capacity", "ACCESS MODES": "accessModes",
           "STORAGECLASS": "storageClass", "AGE": "age", "HOST": "host"}  # fmt: skip
WIDE = {**COLUMNS, "RECLAIM": "reclaimPolicy"}
_SHORT = {
    claims.AccessMode.READ_WRITE_ONCE: "RWO",
    claims.AccessMode.READ_WRITE_ONCE_POD: "RWOP",
    claims.AccessMode.READ_ONLY_MANY: "ROX",
    claims.AccessMode.READ_WRITE_MANY: "RWX",
}


def _modes(modes: tuple[str, ...]) -> str:
    return ",".join(_SHORT.get(m, m) for m in modes)  # type: ignore[call-overload]


def _age(created: str, now: float) -> str:
    """kubectl's age of a volume from Podman's CreatedAt (RFC 3339, maybe nanoseconds)."""
    text = created.strip().replace("Z", "+00:00")
    if "." in text:  # Python reads at most microseconds
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits):]}"
    try:
        when = datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return "<unknown>"
    seconds = max(0, int(now - when))
    for unit, size, below in (("s", 1, 120), ("m", 60, 2 * 3600), ("h", 3600, 48 * 3600)):
        if seconds < below:
            return f"{seconds // size}{unit}"
    return f"{seconds // 86400}d"


def rows(
    state: objects.DesiredState,
    observations: Mapping[str, hoststate.HostObservation],
    namespace: str,
    now: float,
) -> list[dict[str, Any]]:
    """One row per claim of the repository, then one per orphaned claim volume."""
    where = planclaims.locations(observations, state.hosts)
    seen = {(c.namespace, c.claim): c for c in where.found}
    out = []
    for claim in state.claims:
        key = (claim.meta.namespace, claim.meta.name)
        if namespace and key[0] != namespace:
            continue
        status = where.status(key)
        held = where.holders.get(key, ())
        found = seen.get(key)
        out.append({
            "namespace": key[0],
            "name": key[1],
            "status": str(status),
            "volume": claim.volume_name,
            "capacity": quantity.format_bytes(claim.storage_request),
            "accessModes": _modes(tuple(claim.access_modes)),
            "storageClass": claim.storage_class,
            "age": _age(found.created_at, now) if found else "",
            "host": ",".join(held) if held else ("?" if where.unread else ""),
            "reclaimPolicy": str(claim.reclaim_policy),
            "unreadHosts": list(where.unread) if status is claims.Status.LOST else [],
        })  # fmt: skip
    declared = {(c.meta.namespace, c.meta.name) for c in state.claims}
    for found in where.found:
        if found.key in declared or (namespace and found.namespace != namespace):
            continue
        size = found.labels.get(claims.LABEL_CAPACITY, "")
        modes = tuple(m for m in found.labels.get(claims.LABEL_ACCESS_MODES, "").split(",") if m)
        out.append({
            "namespace": found.namespace,
            "name": found.claim,
            "status": str(claims.Status.ORPHANED),
            "volume": found.volume,
            "capacity": quantity.format_bytes(int(size)) if size.isdigit() else "",
            "accessModes": _modes(modes),
            "storageClass": found.labels.get(claims.LABEL_STORAGE_CLASS, ""),
            "age": _age(found.created_at, now),
            "host": found.host,
            "reclaimPolicy": str(found.reclaim_policy),
            "unreadHosts": [],
        })  # fmt: skip
    return out
