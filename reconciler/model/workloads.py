"""Typed workloads: containers, pod specs, Pods and Deployments, with quantities already parsed
(cpu in millicores, memory in bytes). Built by the manifest loader; the deployment controller
expands a `Deployment` into `PodSpec`s, the scheduler places them, the executor maps them to
podman pods.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reconciler.model import base, hooks, podaffinity, security

ROLLBACK_ON_FAILURE = f"{base.API_GROUP}/rollback-on-failure"


class RestartPolicy(enum.StrEnum):
    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


class PullPolicy(enum.StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class Protocol(enum.StrEnum):
    TCP = "TCP"
    UDP = "UDP"


class TolerationOperator(enum.StrEnum):
    EQUAL = "Equal"
    EXISTS = "Exists"


class TaintEffect(enum.StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class StrategyType(enum.StrEnum):
    ROLLING_UPDATE = "RollingUpdate"
    RECREATE = "Recreate"


@dataclass(frozen=True)
class ContainerPort:
    container_port: int
    host_port: int | None = None
    protocol: Protocol = Protocol.TCP
    name: str = ""
    host_ip: str = ""


@dataclass(frozen=True)
class KeyRef:
    """A key of a ConfigMap or Secret (`valueFrom.configMapKeyRef` / `secretKeyRef`)."""

    name: str
    key: str
    optional: bool = False


@dataclass(frozen=True)
class ResourceFieldRef:
    """`valueFrom.resourceFieldRef`: a limit or request of a container ("" for this one), in
    units of `divisor` (a quantity, "1" by default)."""

    resource: str
    container_name: str = ""
    divisor: str = "1"


@dataclass(frozen=True)
class EnvVar:
    """Exactly one of `value`, `config_map_key`, `secret_key`, `field_path`, `resource_field` is
    meaningful."""

    name: str
    value: str = ""
    config_map_key: KeyRef | None = None
    secret_key: KeyRef | None = None
    field_path: str = ""  # `valueFrom.fieldRef.fieldPath`
    resource_field: ResourceFieldRef | None = None


@dataclass(frozen=True)
class EnvFrom:
    """All keys of a ConfigMap or a Secret as environment variables, with an optional prefix."""

    config_map: str = ""
    secret: str = ""
    prefix: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Resources:
    """Requests (used by the scheduler) and limits (`--cpus`, `--memory`); None when unset."""

    cpu_request: int | None = None
    memory_request: int | None = None
    cpu_limit: int | None = None
    memory_limit: int | None = None
    ephemeral_storage_request: int | None = None
    """Bytes (`ephemeral-storage`): counted by the scheduler against a Host that declares it."""
    ephemeral_storage_limit: int | None = None


@dataclass(frozen=True)
class VolumeMount:
    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str = ""
    """`subPath`: mount only this file or directory of the volume (relative, no `..`)."""
    sub_path_expr: str = ""
    """`subPathExpr`: a subPath with `$(VAR)` expanded from the container's env (`plan`)."""


class ProbeHandler(enum.StrEnum):
    EXEC = "exec"
    HTTP_GET = "httpGet"
    TCP_SOCKET = "tcpSocket"


@dataclass(frozen=True)
class Probe:
    """A container probe with Kubernetes' defaults filled in. `port` is the container port,
    already resolved from a port name by the loader (httpGet and tcpSocket); `command` is the
    exec probe's argv (run inside the container, without a shell)."""

    handler: ProbeHandler
    command: tuple[str, ...] = ()
    port: int = 0
    path: str = "/"
    http_headers: tuple[tuple[str, str], ...] = ()
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    working_dir: str = ""
    env: tuple[EnvVar, ...] = ()
    env_from: tuple[EnvFrom, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    resources: Resources = field(default_factory=Resources)
    volume_mounts: tuple[VolumeMount, ...] = ()
    # None: not set in the manifest; the planner applies Kubernetes' default (Always for an
    # untagged or `:latest` image, else IfNotPresent).
    image_pull_policy: PullPolicy | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    security_context: security.SecurityContext | None = None
    lifecycle: hooks.Lifecycle | None = None  # postStart / preStop (`executor.hookrun`)


@dataclass(frozen=True)
class KeyToPath:
    key: str
    path: str
    mode: int | None = None  # the file's mode (0-0o777); None: the volume's default mode


class VolumeType(enum.StrEnum):
    CONFIG_MAP = "configMap"
    SECRET = "secret"  # noqa: S105 (a volume type, not a password)
    EMPTY_DIR = "emptyDir"
    HOST_PATH = "hostPath"
    PERSISTENT_VOLUME_CLAIM = "persistentVolumeClaim"


@dataclass(frozen=True)
class Volume:
    """A pod volume. `source` is the ConfigMap or Secret name, or the host path; "" for emptyDir."""

    name: str
    type: VolumeType
    source: str = ""
    items: tuple[KeyToPath, ...] = ()
    optional: bool = False
    host_path_type: str = ""
    medium: str = ""  # emptyDir: "Memory" is a tmpfs
    size_limit: int | None = None  # emptyDir sizeLimit in bytes (Memory only)
    read_only: bool = False  # persistentVolumeClaim readOnly (source: the claim's name)
    default_mode: int | None = None  # configMap/secret files; None: 0o644 / 0o600 (plan.volumes)


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: TolerationOperator = TolerationOperator.EQUAL
    value: str = ""
    effect: TaintEffect | None = None  # None tolerates every effect


@dataclass(frozen=True)
class PodSpec:
    containers: tuple[Container, ...]
    restart_policy: RestartPolicy = RestartPolicy.ALWAYS
    node_selector: base.FrozenMap[str, str] = field(default_factory=base.FrozenMap)
    tolerations: tuple[Toleration, ...] = ()
    placement: podaffinity.Placement = field(default_factory=podaffinity.Placement)
    """`topologySpreadConstraints` and pod (anti-)affinity, for the scheduler."""
    volumes: tuple[Volume, ...] = ()
    termination_grace_period_seconds: int = 30
    security_context: security.SecurityContext | None = None
    host_aliases: tuple[tuple[str, str], ...] = ()
    """(hostname, ip) lines for the pod's /etc/hosts (`hostAliases`)."""
    init_containers: tuple[Container, ...] = ()
    """Run to completion, one at a time, in order, before the containers (`executor.initrun`)."""
    image_pull_secrets: tuple[str, ...] = ()
    """Names of the Secrets (same namespace) holding registry logins (`imagePullSecrets`)."""
    hostname: str = ""
    """`spec.hostname`: the pod's hostname ("" : the pod's name, as today)."""
    subdomain: str = ""
    """`spec.subdomain`: with it the pod's /etc/hosts names it `hostname.subdomain.<ns>.svc...`."""

    @property
    def cpu_request(self) -> int:
        """Sum of the containers' cpu requests in millicores (a limit stands in for a request),
        or an init container's when larger (they run alone, as Kubernetes counts them)."""
        return max(
            sum(_request(c.resources.cpu_request, c.resources.cpu_limit) for c in self.containers),
            *(_request(c.resources.cpu_request, c.resources.cpu_limit)
              for c in self.init_containers),
            0,
        )  # fmt: skip

    @property
    def memory_request(self) -> int:
        """Sum of the containers' memory requests in bytes (a limit stands in for a request),
        or an init container's when larger."""
        return max(
            sum(
                _request(c.resources.memory_request, c.resources.memory_limit)
                for c in self.containers
            ),
            *(_request(c.resources.memory_request, c.resources.memory_limit)
              for c in self.init_containers),
            0,
        )  # fmt: skip

    @property
    def ephemeral_storage_request(self) -> int:
        """Sum of the containers' ephemeral-storage requests in bytes (a limit stands in)."""
        return sum(
            _request(c.resources.ephemeral_storage_request, c.resources.ephemeral_storage_limit)
            for c in self.containers
        )

    @property
    def host_ports(self) -> tuple[tuple[int, Protocol], ...]:
        return tuple(
            (p.host_port, p.protocol)
            for c in self.containers
            for p in c.ports
            if p.host_port is not None
        )


def _request(request: int | None, limit: int | None) -> int:
    if request is not None:
        return request
    return limit or 0


@dataclass(frozen=True)
class PodTemplate:
    labels: base.FrozenMap[str, str]
    annotations: base.FrozenMap[str, str]
    spec: PodSpec


@dataclass(frozen=True)
class Pod:
    meta: base.ObjectMeta
    spec: PodSpec
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.POD, self.meta.namespace, self.meta.name)


@dataclass(frozen=True)
class RollingUpdate:
    """`maxSurge` / `maxUnavailable` as given: an int or a percentage string such as "25%"."""

    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"


@dataclass(frozen=True)
class Deployment:
    meta: base.ObjectMeta
    replicas: int
    selector: base.FrozenMap[str, str]
    template: PodTemplate
    strategy: StrategyType = StrategyType.ROLLING_UPDATE
    rolling_update: RollingUpdate = field(default_factory=RollingUpdate)
    min_ready_seconds: int = 0
    progress_deadline_seconds: int = 600
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def rollback_on_failure(self) -> bool:
        """Annotation `reconciler.dev/rollback-on-failure: "true"`: return to the last template
        that was fully available when a rollout misses its progress deadline."""
        return self.meta.annotations.get(ROLLBACK_ON_FAILURE) == "true"

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.DEPLOYMENT, self.meta.namespace, self.meta.name)
