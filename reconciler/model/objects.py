"""Typed configuration, networking and infrastructure objects (Namespace, ConfigMap, Secret,
Service, Host) and `DesiredState`, the whole validated content of one repository revision that
the loader hands to the controllers and the scheduler.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar, cast

from reconciler.model import autoscaling, base, cronjobs, disruption, workloads
from reconciler.model import claims as claimsmod
from reconciler.model import jobs as jobsmod

T = TypeVar("T")


@dataclass(frozen=True)
class Namespace:
    meta: base.ObjectMeta
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.NAMESPACE, "", self.meta.name)


@dataclass(frozen=True)
class ConfigMap:
    meta: base.ObjectMeta
    data: base.FrozenMap[str, str] = field(default_factory=base.FrozenMap)
    binary_data: base.FrozenMap[str, bytes] = field(default_factory=base.FrozenMap)
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.CONFIG_MAP, self.meta.namespace, self.meta.name)

    def keys(self) -> frozenset[str]:
        return frozenset(self.data) | frozenset(self.binary_data)


@dataclass(frozen=True, repr=False)
class Secret:
    """A Secret with its values decoded (`data` base64 and `stringData` merged). The values never
    appear in `repr`, so they cannot leak through logs or error messages."""

    meta: base.ObjectMeta
    data: base.FrozenMap[str, bytes] = field(default_factory=base.FrozenMap)
    type: str = "Opaque"
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.SECRET, self.meta.namespace, self.meta.name)

    def keys(self) -> frozenset[str]:
        return frozenset(self.data)

    def __repr__(self) -> str:
        return (
            f"Secret(meta={self.meta!r}, type={self.type!r}, "
            f"data=<redacted: {len(self.data)} keys {sorted(self.data)!r}>)"
        )


@dataclass(frozen=True)
class ServicePort:
    port: int
    target_port: int | str  # a number, or the name of a container port
    protocol: workloads.Protocol = workloads.Protocol.TCP
    name: str = ""
    node_port: int | None = None
    app_protocol: str = ""  # `http` balances each request (HAProxy mode http); else TCP


@dataclass(frozen=True)
class Service:
    meta: base.ObjectMeta
    selector: base.FrozenMap[str, str]
    ports: tuple[ServicePort, ...]
    type: str = "ClusterIP"
    source: base.SourceRef | None = field(default=None, compare=False)
    session_affinity: str = "None"  # "ClientIP": a client's connections stay on one pod
    cluster_ip: str = ""  # its virtual IP (model.clusterips): spec.clusterIP, else allocated
    pod_cidr: str = ""  # headless (clusterIP None): where its pods' addresses come from

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.SERVICE, self.meta.namespace, self.meta.name)


@dataclass(frozen=True)
class Taint:
    key: str
    effect: workloads.TaintEffect
    value: str = ""


@dataclass(frozen=True)
class Host:
    """A machine the daemon drives over SSH (`reconciler.dev/v1alpha1` Host). Its labels are
    `meta.labels`; capacity is cpu millicores and memory bytes."""

    meta: base.ObjectMeta
    address: str
    ssh_user: str
    ssh_port: int = 22
    cpu_capacity: int = 0
    memory_capacity: int = 0
    taints: tuple[Taint, ...] = ()
    source: base.SourceRef | None = field(default=None, compare=False)
    unschedulable: bool = False
    """Cordoned (`spec.unschedulable`): its taints include UNSCHEDULABLE_TAINT."""
    ephemeral_storage_capacity: int | None = None
    """Bytes (`capacity.ephemeral-storage`); None: not counted (unbounded)."""

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.HOST, "", self.meta.name)

    @property
    def node_labels(self) -> dict[str, str]:
        """Its labels as the scheduler matches them: the well-known labels every Kubernetes
        node carries (`WELL_KNOWN_LABELS`) unless the Host sets them itself, then its own."""
        return {**WELL_KNOWN_LABELS, **self.meta.labels}


WELL_KNOWN_LABELS = {"kubernetes.io/os": "linux", "beta.kubernetes.io/os": "linux"}
"""Labels every host carries, as the kubelet sets them on every node (rootless Podman runs on
Linux only): `nodeSelector: {kubernetes.io/os: linux}` in real manifests matches every host.
`kubernetes.io/hostname` is implicit too (`scheduler.topology.host_label`). The architecture
is not guessed: a Host that should match `kubernetes.io/arch` declares it in its labels."""


Object = (
    Namespace | ConfigMap | Secret | Service | Host | workloads.Pod | workloads.Deployment
    | autoscaling.HorizontalPodAutoscaler | disruption.PodDisruptionBudget | jobsmod.Job
    | cronjobs.CronJob | claimsmod.PersistentVolumeClaim
)


@dataclass(frozen=True)
class DesiredState:
    """Every valid object of one repository revision, keyed by `ObjectKey`, in key order."""

    objects: base.FrozenMap[base.ObjectKey, Object] = field(default_factory=base.FrozenMap)
    _kinds: dict[type, tuple[object, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )  # `_of`'s answers: the objects never change, and a pass asks for each kind many times

    @classmethod
    def of(cls, objects: list[Object]) -> DesiredState:
        return cls(base.FrozenMap(sorted(((o.key, o) for o in objects), key=lambda kv: kv[0])))

    def __len__(self) -> int:
        return len(self.objects)

    def __iter__(self) -> Iterator[Object]:
        return iter(self.objects.values())

    def get(self, key: base.ObjectKey) -> Object | None:
        return self.objects.get(key)

    def _of(self, kind: type[T]) -> tuple[T, ...]:
        found = self._kinds.get(kind)
        if found is None:
            found = tuple(o for o in self.objects.values() if isinstance(o, kind))
            self._kinds[kind] = found
        return cast(tuple[T, ...], found)

    @property
    def namespaces(self) -> tuple[Namespace, ...]:
        return self._of(Namespace)

    @property
    def config_maps(self) -> tuple[ConfigMap, ...]:
        return self._of(ConfigMap)

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return self._of(Secret)

    @property
    def services(self) -> tuple[Service, ...]:
        return self._of(Service)

    @property
    def hosts(self) -> tuple[Host, ...]:
        return self._of(Host)

    @property
    def pods(self) -> tuple[workloads.Pod, ...]:
        return self._of(workloads.Pod)

    @property
    def deployments(self) -> tuple[workloads.Deployment, ...]:
        return self._of(workloads.Deployment)

    @property
    def autoscalers(self) -> tuple[autoscaling.HorizontalPodAutoscaler, ...]:
        return self._of(autoscaling.HorizontalPodAutoscaler)

    @property
    def jobs(self) -> tuple[jobsmod.Job, ...]:
        return self._of(jobsmod.Job)

    @property
    def cron_jobs(self) -> tuple[cronjobs.CronJob, ...]:
        return self._of(cronjobs.CronJob)

    @property
    def claims(self) -> tuple[claimsmod.PersistentVolumeClaim, ...]:
        return self._of(claimsmod.PersistentVolumeClaim)

    def by_kind(self) -> Mapping[base.Kind, tuple[Object, ...]]:
        grouped: dict[base.Kind, list[Object]] = {}
        for key, obj in self.objects.items():
            grouped.setdefault(key.kind, []).append(obj)
        return {kind: tuple(objs) for kind, objs in grouped.items()}
