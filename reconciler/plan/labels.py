"""The label vocabulary the planner adds on top of `hoststate`'s: which labels are digests (never
rendered), which stay out of the spec hash, and which a manifest may not set. Used by `resolve`,
`podrun`, `render` and `export`.
"""

from __future__ import annotations

from reconciler.model import hoststate

SPEC_PARTS = f"{hoststate.LABEL_PREFIX}spec-parts"
"""`name=digest,...` for each part of the spec hash, sorted by name (see `podrun`)."""

HASHES = frozenset({hoststate.LABEL_SPEC_HASH, SPEC_PARTS})
"""Labels whose values are digests (of secret values too): never rendered."""

UNHASHED = HASHES | {
    hoststate.LABEL_REVISION,
    hoststate.LABEL_REQUESTS,
    hoststate.LABEL_HOST_PORTS,
    hoststate.LABEL_PROBE_PORTS,
    hoststate.LABEL_POD_PORTS,
    hoststate.LABEL_PORT_NAMES,
}
"""Labels left out of the spec hash: the hashes themselves, the revision, and bookkeeping derived
from parts that are hashed already (requests, hostPorts) or allocated per host (probe ports)."""

RESERVED = UNHASHED | {
    hoststate.MANAGED_BY,
    hoststate.LABEL_NAMESPACE,
    hoststate.LABEL_NAME,
    hoststate.LABEL_OWNER,
    hoststate.LABEL_TEMPLATE_HASH,
    hoststate.LABEL_CONTAINER,
}
"""Labels the reconciler sets; a manifest may not set them."""

SHOWN = frozenset(
    {
        hoststate.MANAGED_BY,
        hoststate.LABEL_NAMESPACE,
        hoststate.LABEL_NAME,
        hoststate.LABEL_OWNER,
        hoststate.LABEL_TEMPLATE_HASH,
        hoststate.LABEL_REVISION,
    }
)
"""The reconciler's own labels shown in diffs; others under its prefix (digests, bookkeeping the
executor adds such as the pod's file directories) would only be noise there."""


def shown(key: str) -> bool:
    """True for a label that `render` and `export` show: the manifest's own, and `SHOWN`."""
    return not key.startswith(hoststate.LABEL_PREFIX) or key in SHOWN
