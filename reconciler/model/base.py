"""Identity and metadata shared by every desired object: kinds, keys, labels, source positions.

The bottom of the model layer: `ObjectKey` names an object everywhere in the flow (plan, status,
logs); `FrozenMap` keeps labels and data immutable once the loader has built them.
"""

from __future__ import annotations

import enum
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar, overload

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

API_GROUP = "reconciler.dev"
"""The project's own API group (Host) and annotation prefix; never a core Kubernetes group."""

HOST_API_VERSION = f"{API_GROUP}/v1alpha1"
DEFAULT_NAMESPACE = "default"


class Kind(enum.StrEnum):
    """The kinds of object a repository may declare."""

    NAMESPACE = "Namespace"
    POD = "Pod"
    SERVICE = "Service"
    CONFIG_MAP = "ConfigMap"
    SECRET = "Secret"  # noqa: S105 (a kind name, not a password)
    DEPLOYMENT = "Deployment"
    HOST = "Host"
    HORIZONTAL_POD_AUTOSCALER = "HorizontalPodAutoscaler"
    POD_DISRUPTION_BUDGET = "PodDisruptionBudget"
    JOB = "Job"
    CRON_JOB = "CronJob"
    PERSISTENT_VOLUME_CLAIM = "PersistentVolumeClaim"

    @property
    def api_version(self) -> str:
        return _API_VERSIONS[self]

    @property
    def namespaced(self) -> bool:
        return self not in (Kind.NAMESPACE, Kind.HOST)

    @classmethod
    def lookup(cls, api_version: str, kind: str) -> Kind | None:
        """The supported kind for an (apiVersion, kind) pair, or None."""
        try:
            found = cls(kind)
        except ValueError:
            return None
        return found if found.api_version == api_version else None


_API_VERSIONS: dict[Kind, str] = {
    Kind.NAMESPACE: "v1",
    Kind.POD: "v1",
    Kind.SERVICE: "v1",
    Kind.CONFIG_MAP: "v1",
    Kind.SECRET: "v1",
    Kind.DEPLOYMENT: "apps/v1",
    Kind.HOST: HOST_API_VERSION,
    Kind.HORIZONTAL_POD_AUTOSCALER: "autoscaling/v2",
    Kind.POD_DISRUPTION_BUDGET: "policy/v1",
    Kind.JOB: "batch/v1",
    Kind.CRON_JOB: "batch/v1",
    Kind.PERSISTENT_VOLUME_CLAIM: "v1",
}


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of a desired object. `namespace` is "" for cluster-scoped kinds."""

    kind: Kind
    namespace: str
    name: str

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class SourceRef:
    """Where an object was declared: file relative to the repository root, 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class FrozenMap(Mapping[K, V]):
    """An immutable, hashable mapping that keeps insertion order."""

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    @overload
    def get(self, key: K, /) -> V | None: ...
    @overload
    def get(self, key: K, /, default: V | T) -> V | T: ...
    def get(self, key: K, /, default: object = None) -> object:
        return self._data.get(key, default)  # the dict's own, not Mapping's via __getitem__

    def keys(self) -> KeysView[K]:
        return self._data.keys()

    def values(self) -> ValuesView[V]:
        return self._data.values()

    def items(self) -> ItemsView[K, V]:
        return self._data.items()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_hash" or (name == "_data" and not hasattr(self, "_data")):
            object.__setattr__(self, name, value)
            return
        _immutable()


def _immutable() -> NoReturn:
    raise TypeError("FrozenMap is immutable")


def frozen_map(items: Mapping[str, str] | None) -> FrozenMap[str, str]:
    return FrozenMap(items or {})


@dataclass(frozen=True)
class ObjectMeta:
    """The metadata we support: name, namespace ("" when cluster-scoped), labels, annotations."""

    name: str
    namespace: str = ""
    labels: FrozenMap[str, str] = field(default_factory=FrozenMap)
    annotations: FrozenMap[str, str] = field(default_factory=FrozenMap)
