"""PersistentVolumeClaim checks: `check` for one claim document and `pod_volume` for a pod's
`persistentVolumeClaim` volume (from `checks` and `podchecks`), `across` once every document is
built (from `loader`): a ReadWriteOncePod claim is mounted by one pod at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.manifests import checking
from reconciler.manifests import positions as pos
from reconciler.model import base, claims, cronjobs, jobs, objects, quantity, workloads
from reconciler.model import diagnostics as dg

Doc = dict[str, Any]
_ONE_HOST = (
    "the data of a claim is a Podman volume on one host: pods on other hosts cannot reach it"
)


def check(checker: checking.Checker) -> None:
    """Access modes, storage request, storage class of one schema-valid claim (any class name is
    accepted with a warning: there is one kind of storage here)."""
    spec: Doc = checker.doc["spec"]
    modes: list[Any] = spec.get("accessModes") or []
    if not modes:
        checker.error(
            ("spec", "accessModes") if "accessModes" in spec else ("spec",),
            dg.Code.REQUIRED_FIELD,
            "a PersistentVolumeClaim needs at least one access mode",
            "add accessModes: [ReadWriteOnce]",
        )
    for index, mode in enumerate(modes):
        path = ("spec", "accessModes", index)
        if mode in (claims.AccessMode.READ_WRITE_MANY, claims.AccessMode.READ_ONLY_MANY):
            checker.error(
                path,
                dg.Code.UNSUPPORTED_FIELD,
                f"access mode {mode} is refused: {_ONE_HOST}",
                "use ReadWriteOnce (pods that mount it all run on its host)",
            )
        elif mode not in claims.SUPPORTED_MODES:
            checker.error(
                path,
                dg.Code.INVALID_VALUE,
                f"unknown access mode {mode!r}",
                "use ReadWriteOnce or ReadWriteOncePod",
            )
    if claims.AccessMode.READ_WRITE_ONCE_POD in modes and len(set(modes)) > 1:
        checker.error(
            ("spec", "accessModes"),
            dg.Code.INVALID_VALUE,
            "ReadWriteOncePod cannot be combined with other access modes",
            "keep ReadWriteOncePod alone",
        )
    requests = (spec.get("resources") or {}).get("requests") or {}
    if "storage" not in requests:
        checker.error(
            ("spec", "resources") if "resources" in spec else ("spec",),
            dg.Code.REQUIRED_FIELD,
            "spec.resources.requests.storage is required (as in Kubernetes)",
            "add resources: {requests: {storage: 1Gi}} (recorded, not enforced here)",
        )
    else:
        checker.quantity(
            ("spec", "resources", "requests", "storage"), requests["storage"],
            quantity.memory_bytes,
        )  # fmt: skip
    storage_class = spec.get("storageClassName")
    if storage_class not in (None, "", claims.LOCAL_CLASS):
        where = ("spec", "storageClassName")
        checker.name(where, storage_class, label=False, what="storage class")
        checker.warn(
            where,
            dg.Code.IGNORED_FIELD,
            f"storage class {storage_class!r} is not honoured: a host here has one kind of "
            "storage, a Podman named volume on the pod's host, so the claim gets such a volume "
            "(no provisioner, no SSD or other tier, no replication)",
            f'remove storageClassName, or write "{claims.LOCAL_CLASS}", the name of that storage',
        )


def pod_volume(checker: checking.Checker, path: pos.Path, volume: Doc) -> None:
    """A pod volume `persistentVolumeClaim`: the claim must exist in the pod's namespace."""
    source: Doc = volume["persistentVolumeClaim"]
    checker.refer(
        (*path, "persistentVolumeClaim", "claimName"),
        base.Kind.PERSISTENT_VOLUME_CLAIM,
        source["claimName"],
    )


def build(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> claims.PersistentVolumeClaim:
    spec: Doc = doc["spec"]
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", 0)
    modes = tuple(claims.AccessMode(m) for m in spec.get("accessModes") or ())
    return claims.PersistentVolumeClaim(
        meta,
        access_modes=modes or (claims.AccessMode.READ_WRITE_ONCE,),
        storage_request=quantity.memory_bytes(storage),
        storage_class=spec.get("storageClassName") or "",
        source=source,
    )


def claim_names(spec: workloads.PodSpec) -> tuple[str, ...]:
    """The claims a pod spec mounts, in volume order."""
    return tuple(
        v.source for v in spec.volumes if v.type is workloads.VolumeType.PERSISTENT_VOLUME_CLAIM
    )


def _users(obj: objects.Object) -> tuple[workloads.PodSpec, int, str] | None:
    """(pod spec, pods that may run at once, why more than one) of an object that has pods."""
    if isinstance(obj, workloads.Pod):
        return obj.spec, 1, ""
    if isinstance(obj, workloads.Deployment):
        surge = obj.strategy is workloads.StrategyType.ROLLING_UPDATE
        at_once = obj.replicas + (1 if surge else 0)
        why = "replicas > 1" if obj.replicas > 1 else "a RollingUpdate starts the new pod first"
        return obj.template.spec, at_once, why
    if isinstance(obj, jobs.Job):
        return obj.template.spec, obj.parallelism, "parallelism > 1"
    if isinstance(obj, cronjobs.CronJob):
        runs = 1 if obj.concurrency_policy is cronjobs.ConcurrencyPolicy.FORBID else 2
        return obj.job.template.spec, max(runs, obj.job.parallelism), "runs may overlap"
    return None


def across(built: Iterable[objects.Object]) -> list[dg.Diagnostic]:
    """A ReadWriteOncePod claim may be mounted by one pod at a time: by one object, whose pods
    never overlap (a Deployment of one replica with strategy Recreate, a Job of parallelism 1,
    a CronJob with concurrencyPolicy Forbid)."""
    everything = list(built)
    once = {c.key: c for c in everything if isinstance(c, claims.PersistentVolumeClaim)
            and c.once_per_pod}  # fmt: skip
    if not once:
        return []
    found: list[dg.Diagnostic] = []
    first: dict[base.ObjectKey, objects.Object] = {}
    for obj in everything:
        users = _users(obj)
        if users is None:
            continue
        spec, at_once, why = users
        for name in claim_names(spec):
            key = base.ObjectKey(base.Kind.PERSISTENT_VOLUME_CLAIM, obj.key.namespace, name)
            if key not in once:
                continue
            file, line = (obj.source.file, obj.source.line) if obj.source else ("", 0)
            earlier = first.setdefault(key, obj)
            if earlier is not obj:
                found.append(dg.Diagnostic(
                    file, line, 1, "", f"{obj.key}: ReadWriteOncePod claim {name} is already "
                    f"mounted by {earlier.key}", "give each its own claim, or use ReadWriteOnce",
                    dg.Code.INVALID_VALUE,
                ))  # fmt: skip
            elif at_once > 1:
                found.append(dg.Diagnostic(
                    file, line, 1, "", f"{obj.key}: ReadWriteOncePod claim {name} allows one pod "
                    f"at a time, and {why}", "use one replica with strategy Recreate (or "
                    "parallelism 1, concurrencyPolicy Forbid), or use ReadWriteOnce",
                    dg.Code.INVALID_VALUE,
                ))  # fmt: skip
    return found
