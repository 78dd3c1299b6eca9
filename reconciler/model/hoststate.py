"""What runs on hosts, as the planner and the executor exchange it: the podman pod to run
(`PodRun`, fully resolved: env values, files, ports, labels), what was observed on a host
(`ObservedPod`, read back from podman labels alone), and the actions of a `Plan`.

The plan layer builds `PodRun`s from desired objects; the executor turns them into podman calls.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reconciler.model import base, hooks, registryauth, security, workloads
from reconciler.model import claims as claimsmod

LABEL_PREFIX = f"{base.API_GROUP}/"
MANAGED_BY = f"{LABEL_PREFIX}managed-by"
MANAGER = "reconciler"
"""Every podman object the reconciler creates has MANAGED_BY=MANAGER; nothing else is touched."""
LABEL_NAMESPACE = f"{LABEL_PREFIX}namespace"
LABEL_NAME = f"{LABEL_PREFIX}name"
LABEL_OWNER = f"{LABEL_PREFIX}owner"  # "Deployment/<name>", or "" for a bare Pod
LABEL_SPEC_HASH = f"{LABEL_PREFIX}spec-hash"
LABEL_TEMPLATE_HASH = f"{LABEL_PREFIX}template-hash"
LABEL_REVISION = f"{LABEL_PREFIX}revision"
LABEL_CONTAINER = f"{LABEL_PREFIX}container"
LABEL_PROBES = f"{LABEL_PREFIX}probes"
"""Container label: the container's probes as JSON (`probes.encode`), so a prober needs nothing
but what Podman lists."""
LABEL_PROBE_PORTS = f"{LABEL_PREFIX}probe-ports"
"""Pod label: `containerPort=hostPort,...`: where each probed port answers on the host's
127.0.0.1 (a `hostPort`, or a loopback-only port the planner allocated)."""
LABEL_REQUESTS = f"{LABEL_PREFIX}requests"
"""Pod label: `cpu=<millicores>,memory=<bytes>`: what the scheduler counts for a pod that is kept
while it is no longer desired (an old pod during a rollout)."""
LABEL_HOST_PORTS = f"{LABEL_PREFIX}host-ports"
"""Pod label: `8080/TCP,...`: the pod's hostPorts, counted by the scheduler like its requests."""
LABEL_POD_PORTS = f"{LABEL_PREFIX}pod-ports"
"""Pod label: `containerPort=hostPort,...`: where each declared TCP container port answers on
every address of the host (its hostPort, or a port `plan.podports` allocated): Service backends."""
LABEL_PORT_NAMES = f"{LABEL_PREFIX}port-names"
"""Pod label: `name=containerPort,...`: the pod's named ports, for a Service's named targetPort."""


class Sensitive(str):
    """A secret value: behaves as a str for the executor, never shows in repr (logs, errors)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


@dataclass(frozen=True)
class HostTarget:
    """How to reach one host (from its Host manifest)."""

    name: str
    address: str
    port: int = 22
    user: str = "reconciler"


@dataclass(frozen=True, repr=False)
class HostFile:
    """A file the executor writes on the host before the pod starts (configMap/secret volumes).

    `path` is relative to the host user's reconciler state directory
    (`~/.local/share/reconciler/`), with `mode` (`plan.volumes`: 0600 for secret files unless
    the manifest sets `defaultMode` or `items[].mode`).
    """

    path: str
    content: bytes
    mode: int = 0o644
    secret: bool = False

    def __repr__(self) -> str:
        shown = "<redacted>" if self.secret else f"{len(self.content)} bytes"
        return f"HostFile({self.path!r}, {shown}, mode={self.mode:o})"


class MountKind(enum.StrEnum):
    BIND = "bind"  # source: a directory relative to the host state dir (written HostFiles)
    VOLUME = "volume"  # source: a podman volume name (emptyDir)
    HOST_PATH = "hostPath"  # source: an absolute host path (allow-listed)
    TMPFS = "tmpfs"  # source: its size in bytes, "" unlimited (emptyDir medium Memory)
    CLAIM = "claim"  # source: the podman volume of a PersistentVolumeClaim (kept across pods)


@dataclass(frozen=True)
class Mount:
    kind: MountKind
    source: str
    target: str
    read_only: bool = False
    sub_path: str = ""
    """VOLUME and CLAIM only: mount this relative path of the volume (`subPath`), made as a
    directory if missing (`executor.subpaths`); the other kinds carry it in `source`."""


@dataclass(frozen=True)
class PortMapping:
    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""


class ProbeKind(enum.StrEnum):
    STARTUP = "startup"
    LIVENESS = "liveness"
    READINESS = "readiness"


@dataclass(frozen=True)
class ContainerProbe:
    """One probe of one container, as the prober runs it."""

    kind: ProbeKind
    probe: workloads.Probe


@dataclass(frozen=True)
class ContainerRun:
    name: str
    image: str
    pull_policy: str = "IfNotPresent"  # Always | IfNotPresent | Never
    command: tuple[str, ...] = ()  # entrypoint; () keeps the image's
    args: tuple[str, ...] = ()
    working_dir: str = ""
    env: tuple[tuple[str, str], ...] = ()  # values may be Sensitive
    mounts: tuple[Mount, ...] = ()
    cpu_limit_millis: int | None = None
    memory_limit_bytes: int | None = None
    probes: tuple[ContainerProbe, ...] = ()
    security: security.Effective = field(default_factory=security.Effective)
    """User, read-only root, no-new-privileges, capabilities (`securityContext`)."""
    lifecycle: hooks.Lifecycle | None = None  # postStart / preStop, run by `executor.hookrun`


@dataclass(frozen=True)
class PodRun:
    """One desired podman pod on one host. `labels` include the MANAGED_BY/... labels above."""

    namespace: str
    name: str
    host: str
    spec_hash: str
    labels: base.FrozenMap[str, str]
    containers: tuple[ContainerRun, ...]
    ports: tuple[PortMapping, ...] = ()
    restart_policy: str = "Always"  # Always | OnFailure | Never
    files: tuple[HostFile, ...] = ()
    volumes: tuple[str, ...] = ()  # podman volumes (emptyDir) to create
    claims: tuple[claimsmod.ClaimVolume, ...] = ()
    """PersistentVolumeClaim volumes the pod mounts: made if missing, never emptied or removed
    with the pod. Not hashed apart from the mounts that name them."""
    owner: str = ""
    termination_grace_seconds: int | None = None  # SIGTERM to SIGKILL; None: executor default
    probe_ports: tuple[PortMapping, ...] = ()
    """Loopback-only publications (host_ip 127.0.0.1) the planner allocated so that probes reach
    container ports that have no hostPort. Not part of the spec hash (the allocation of a
    running pod is read back from its LABEL_PROBE_PORTS)."""
    published_ports: tuple[PortMapping, ...] = ()
    """Declared TCP container ports without a hostPort, published on every address of the host
    at a port `plan.podports` allocated (a running pod keeps its LABEL_POD_PORTS). Not hashed."""
    service_env: tuple[tuple[str, str], ...] = ()
    """Service discovery variables (`WEB_SERVICE_HOST`, ...) for every container, under the
    container's own env. Not hashed: a pod sees the Services of when it was created."""
    host_aliases: tuple[tuple[str, str], ...] = ()
    """(name, address) lines for the pod's /etc/hosts (Service names). Not hashed."""
    init_containers: tuple[ContainerRun, ...] = ()
    """Run one at a time, in order, to completion before `containers` start (`initrun`)."""
    pull_credentials: tuple[registryauth.RegistryCredential, ...] = field(default=(), repr=False)
    """Registry logins from the pod's `imagePullSecrets`, for the executor's pulls. Not hashed
    (a changed login recreates no pod, as in Kubernetes) and never shown."""
    hostname: str = ""
    """The pod's hostname (`spec.hostname`); "" : its name, truncated as Kubernetes does."""
    subdomain: str = ""
    """`spec.subdomain`: the pod's own /etc/hosts names it `<hostname>.<subdomain>.<namespace>
    .svc.cluster.local` (`podmanspec`); no other pod resolves that name."""
    fs_group: int | None = None
    """The pod's `securityContext.fsGroup`: its emptyDir and claim volumes are made group-owned
    by it, group-writable and setgid (`executor.volumegroups`). Hashed through every container's
    `security.groups`, which hold it."""

    @property
    def podman_name(self) -> str:
        """The podman pod name: unique per host, readable, derived from namespace and name."""
        return f"{self.namespace}_{self.name}"


class PodPhase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class ObservedContainer:
    name: str
    podman_id: str
    image: str
    state: str  # podman's: created, running, exited, ...
    exit_code: int = 0
    restart_count: int | None = 0  # None: not read (a plain observe skips per-container inspects)
    started_at: str = ""
    probes: tuple[ContainerProbe, ...] = ()  # from LABEL_PROBES
    ready: bool | None = None  # None: not known (no prober has seen it)
    finished_at: str = ""  # when it last exited (ISO 8601), "" when unknown or never


@dataclass(frozen=True)
class ObservedPod:
    """A managed podman pod found on a host, described only by what its labels and podman say."""

    namespace: str
    name: str
    host: str
    podman_id: str
    spec_hash: str
    owner: str = ""
    revision: str = ""
    labels: base.FrozenMap[str, str] = field(default_factory=base.FrozenMap)
    phase: PodPhase = PodPhase.UNKNOWN
    containers: tuple[ObservedContainer, ...] = ()
    created_at: str = ""
    probe_ports: tuple[tuple[int, int], ...] = ()  # (container port, port on host's 127.0.0.1)
    ready: bool | None = None  # None: not known; see `controllers.readiness`
    ready_since: float = 0.0  # epoch seconds it has been ready since (when ready)
    init_containers: tuple[ObservedContainer, ...] = ()  # in their order (`initrun`)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def template_hash(self) -> str:
        return self.labels.get(LABEL_TEMPLATE_HASH, "")


@dataclass(frozen=True)
class HostObservation:
    """Everything managed on one host, or why the host could not be read.

    An unreachable host's pods are unknown, never assumed deleted.
    """

    host: str
    reachable: bool
    pods: tuple[ObservedPod, ...] = ()
    error: str = ""
    empty: bool = False
    """Not usable, but known to run no managed pod (it answered: no Podman there): its pods
    need no waiting for, as a lost host's."""
    claims: tuple[claimsmod.ObservedClaim, ...] = ()
    """PersistentVolumeClaim volumes on the host (only when reachable)."""


class ActionKind(enum.StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    DELETE = "delete"
    RESTART = "restart"  # start an exited container of a pod again (restart policy, backoff)


@dataclass(frozen=True)
class Action:
    """One change on one host, tagged by `kind`: CREATE has `run`; DELETE has `observed`;
    REPLACE has both; RESTART has `observed` and `container` (the manifest's container name).

    `wave`: actions run in waves, lowest first; every action of a wave (all hosts in parallel)
    finishes before the next wave starts. A strategy is an ordering of waves (deletes first to
    free ports and capacity, then creates), never a special case in an executor."""

    kind: ActionKind
    host: str
    namespace: str
    name: str
    run: PodRun | None = None
    observed: ObservedPod | None = None
    reason: str = ""
    container: str = ""
    wave: int = 0


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()  # sorted by wave, then as the planner ordered them
    unchanged: tuple[tuple[str, str, str], ...] = ()  # (host, namespace, name)
    reclaims: tuple[claimsmod.ObservedClaim, ...] = ()
    """Claim volumes the executor removes after the actions: their claim left git with reclaim
    policy Delete, and no managed pod on their host mounts them (`plan.claims.reclaimable`)."""

    @property
    def empty(self) -> bool:
        return not self.actions and not self.reclaims

    def for_host(self, host: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.host == host)

    @property
    def waves(self) -> tuple[tuple[Action, ...], ...]:
        """The actions grouped by wave, lowest wave first (empty waves left out)."""
        numbers = sorted({a.wave for a in self.actions})
        return tuple(tuple(a for a in self.actions if a.wave == n) for n in numbers)


class Outcome(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # host unreachable


@dataclass(frozen=True)
class ActionResult:
    action: Action
    outcome: Outcome
    message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class ProbeResult:
    """One run of one probe: passed or not, and what it saw (for `describe` and events)."""

    ok: bool
    message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class ContainerExit:
    """A managed container stopped running (Podman's `died` event), as the executor streams it
    to the pod lifecycle controller. `container` is the manifest's container name."""

    host: str
    namespace: str
    name: str
    container: str
    podman_id: str
    exit_code: int
    time: float  # seconds since the epoch, by the host's clock


class EventObject(enum.StrEnum):
    POD = "pod"
    CONTAINER = "container"


@dataclass(frozen=True)
class PodEvent:
    """Something Podman recorded about a pod or one of its containers, shown by `describe`.

    `action` is Podman's word for it (create, start, died, stop, remove, restart, ...);
    `name` is the container's name in the manifest, or the pod's name for the pod itself.
    """

    time: float  # seconds since the epoch, by the host's clock
    action: str
    kind: EventObject
    name: str
    exit_code: int | None = None  # "died" events only
    image: str = ""  # container events only
