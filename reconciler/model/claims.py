"""PersistentVolumeClaims: the desired claim (`v1` PersistentVolumeClaim, built by the loader), the
Podman named volume that backs it on one host (`ClaimVolume`, created by the executor before a pod
that mounts it) and that volume as observed on a host (`ObservedClaim`, read back from its labels).

The plan binds a claim to the host that holds its volume; see `plan.claims`.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field

from reconciler.model import base

LABEL_PREFIX = f"{base.API_GROUP}/"
LABEL_CLAIM = f"{LABEL_PREFIX}claim"
"""Volume label: the claim's name (with the managed-by and namespace labels of `hoststate`)."""
LABEL_CAPACITY = f"{LABEL_PREFIX}capacity"
"""Volume label: the storage request in bytes when the volume was made (recorded, not enforced)."""
LABEL_ACCESS_MODES = f"{LABEL_PREFIX}access-modes"
LABEL_STORAGE_CLASS = f"{LABEL_PREFIX}storage-class"
LABEL_RECLAIM = f"{LABEL_PREFIX}reclaim-policy"
"""Volume label, from the claim's annotation of the same name when the volume was made."""
RECLAIM_ANNOTATION = LABEL_RECLAIM
"""Claim annotation: `Retain` (default) or `Delete`."""

VOLUME_PREFIX = "rc-pvc-"
LOCAL_CLASS = "local"
"""The one storage class name accepted besides "" and none: a Podman volume on the pod's host."""
MAX_VOLUME_NAME = 120


class AccessMode(enum.StrEnum):
    READ_WRITE_ONCE = "ReadWriteOnce"
    READ_WRITE_ONCE_POD = "ReadWriteOncePod"
    READ_ONLY_MANY = "ReadOnlyMany"
    READ_WRITE_MANY = "ReadWriteMany"


SUPPORTED_MODES = (AccessMode.READ_WRITE_ONCE, AccessMode.READ_WRITE_ONCE_POD)


class ReclaimPolicy(enum.StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


class Status(enum.StrEnum):
    """`get pvc` STATUS: Kubernetes' words, plus Orphaned for a volume whose claim left git."""

    BOUND = "Bound"  # its volume exists on a host that answered
    PENDING = "Pending"  # no volume yet: made where its first pod is placed
    LOST = "Lost"  # not found on the hosts that answered; a host that did not may hold it
    ORPHANED = "Orphaned"  # a volume whose claim is no longer in git (kept: Retain)


@dataclass(frozen=True)
class PersistentVolumeClaim:
    meta: base.ObjectMeta
    access_modes: tuple[AccessMode, ...] = (AccessMode.READ_WRITE_ONCE,)
    storage_request: int = 0
    """`spec.resources.requests.storage` in bytes (recorded and shown, not enforced)."""
    storage_class: str = ""
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def key(self) -> base.ObjectKey:
        kind = base.Kind.PERSISTENT_VOLUME_CLAIM
        return base.ObjectKey(kind, self.meta.namespace, self.meta.name)

    @property
    def once_per_pod(self) -> bool:
        return AccessMode.READ_WRITE_ONCE_POD in self.access_modes

    @property
    def reclaim_policy(self) -> ReclaimPolicy:
        value = self.meta.annotations.get(RECLAIM_ANNOTATION, ReclaimPolicy.RETAIN.value)
        return ReclaimPolicy(value)

    @property
    def volume_name(self) -> str:
        return volume_name(self.meta.namespace, self.meta.name)


_UNSAFE = re.compile(r"[^a-z0-9-]")


def volume_name(namespace: str, claim: str) -> str:
    """The Podman volume of a claim: `rc-pvc-<namespace>-<claim>`, plus a short digest of the
    pair so that `a-b`/`c` and `a`/`b-c` never share a volume."""
    digest = hashlib.sha256(f"{namespace}/{claim}".encode()).hexdigest()[:8]
    readable = _UNSAFE.sub("-", f"{namespace}-{claim}".lower())
    readable = readable[: MAX_VOLUME_NAME - len(VOLUME_PREFIX) - len(digest) - 1]
    return f"{VOLUME_PREFIX}{readable}-{digest}"


@dataclass(frozen=True)
class ClaimVolume:
    """A claim's volume as a pod run needs it on its host: made if missing, never emptied."""

    namespace: str
    claim: str
    volume: str
    labels: base.FrozenMap[str, str] = field(default_factory=base.FrozenMap)


@dataclass(frozen=True)
class ObservedClaim:
    """A claim volume found on a host (from `podman volume ls` with our labels)."""

    namespace: str
    claim: str
    volume: str
    host: str
    labels: base.FrozenMap[str, str] = field(default_factory=base.FrozenMap)
    created_at: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.claim)

    @property
    def reclaim_policy(self) -> ReclaimPolicy:
        value = self.labels.get(LABEL_RECLAIM, "")
        return ReclaimPolicy.DELETE if value == ReclaimPolicy.DELETE else ReclaimPolicy.RETAIN
