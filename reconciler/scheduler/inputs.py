"""The scheduler's own input values: hosts, taints, tolerations and pod requests.

An adapter maps the manifest model onto these before `placement.schedule()` runs, so the
scheduler depends on nothing above it. Values are validated on construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from reconciler.scheduler import nodeterms, topology

# Quantities stay below 2**50 (1 PiB of memory, 10**12 cores in millicores) so that free capacity
# fits an int64 and converts to float64 exactly: both implementations then score bit for bit alike.
MAX_QUANTITY = 2**50

_EMPTY: Mapping[str, str] = MappingProxyType({})


class TaintEffect(StrEnum):
    """What a taint does to pods that do not tolerate it (Kubernetes semantics)."""

    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class TolerationOperator(StrEnum):
    EQUAL = "Equal"
    EXISTS = "Exists"


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


def _check_quantity(what: str, value: int) -> None:
    if not 0 <= value < MAX_QUANTITY:
        raise ValueError(f"{what} must be in [0, {MAX_QUANTITY}), got {value}")


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: TaintEffect = TaintEffect.NO_SCHEDULE

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a taint needs a key")


@dataclass(frozen=True)
class Toleration:
    """Kubernetes toleration: an empty key with Exists tolerates every taint; an empty
    effect (None) matches every effect."""

    key: str = ""
    operator: TolerationOperator = TolerationOperator.EQUAL
    value: str = ""
    effect: TaintEffect | None = None

    def __post_init__(self) -> None:
        if not self.key and self.operator is not TolerationOperator.EXISTS:
            raise ValueError("a toleration with an empty key must use operator Exists")
        if self.operator is TolerationOperator.EXISTS and self.value:
            raise ValueError("a toleration with operator Exists must not have a value")

    def tolerates(self, taint: Taint) -> bool:
        if self.effect is not None and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator is TolerationOperator.EXISTS:
            return True
        return self.value == taint.value


@dataclass(frozen=True)
class HostPort:
    """A port published on the host's address (`ports[].hostPort` of a container)."""

    port: int
    protocol: Protocol = Protocol.TCP

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"host port must be in 1..65535, got {self.port}")

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True)
class HostInfo:
    """A host as the scheduler sees it: readiness, allocatable capacity, labels, taints."""

    name: str
    ready: bool = True
    cpu_millis: int = 0
    memory_bytes: int = 0
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    taints: tuple[Taint, ...] = ()
    pod_ports: int = MAX_QUANTITY - 1
    """How many ports the host can publish for pods (its allocation range), like a capacity."""
    ephemeral_storage: int = MAX_QUANTITY - 1
    """Bytes of `ephemeral-storage` requests it takes (the Host's capacity; else unbounded)."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a host needs a name")
        _check_quantity(f"host {self.name} cpu_millis", self.cpu_millis)
        _check_quantity(f"host {self.name} memory_bytes", self.memory_bytes)
        _check_quantity(f"host {self.name} pod_ports", self.pod_ports)
        _check_quantity(f"host {self.name} ephemeral_storage", self.ephemeral_storage)


@dataclass(frozen=True)
class PodRequest:
    """A pod to place. `key` is "namespace/name"; `owner` groups replicas for spreading
    (for example "default/Deployment/web"); `bound_host` is where the pod runs now, if anywhere."""

    key: str
    owner: str | None = None
    cpu_millis: int = 0
    memory_bytes: int = 0
    node_selector: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    tolerations: tuple[Toleration, ...] = ()
    host_ports: frozenset[HostPort] = frozenset()
    bound_host: str | None = None
    ephemeral_storage: int = 0
    """Bytes of `ephemeral-storage` the pod requests."""
    pod_ports: int = 0
    """How many ports the pod publishes from its host's allocation range (no hostPort)."""
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    """The pod's labels, matched by the selectors of other pods' `rules`."""
    rules: topology.Rules | None = None
    """Topology spread constraints and pod (anti-)affinity, if any."""
    node_affinity: nodeterms.NodeAffinity | None = None
    """`affinity.nodeAffinity`: required terms filter hosts, preferred ones score them."""

    @property
    def namespace(self) -> str:
        return self.key.partition("/")[0]

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a pod needs a key")
        _check_quantity(f"pod {self.key} cpu_millis", self.cpu_millis)
        _check_quantity(f"pod {self.key} memory_bytes", self.memory_bytes)
        _check_quantity(f"pod {self.key} pod_ports", self.pod_ports)
        _check_quantity(f"pod {self.key} ephemeral_storage", self.ephemeral_storage)
