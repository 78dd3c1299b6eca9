"""ephemeral-storage requests: counted against a host that declares the capacity, by both
scheduler implementations; a host without it takes any amount (as Kubernetes without a limit)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import pytest

from reconciler.model import workloads
from reconciler.plan import binding
from reconciler.scheduler import placement, reference
from reconciler.scheduler.inputs import HostInfo, PodRequest
from reconciler.scheduler.result import Placement, Reason
from tests.plan import builders as b

GiB = 1 << 30
Schedule = Callable[[Iterable[HostInfo], Iterable[PodRequest]], Placement]
IMPLEMENTATIONS: tuple[Schedule, ...] = (placement.schedule, reference.schedule)


def _host(name: str, storage: int | None) -> HostInfo:
    extra = {} if storage is None else {"ephemeral_storage": storage}
    return HostInfo(name, cpu_millis=4000, memory_bytes=8 * GiB, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize("schedule", IMPLEMENTATIONS)
def test_requests_fill_a_declared_capacity(schedule: Schedule) -> None:
    pods = [PodRequest(f"ns/p{i}", ephemeral_storage=4 * GiB) for i in range(3)]
    result = schedule([_host("h1", 10 * GiB)], pods)
    assert sorted(result.bindings) == ["ns/p0", "ns/p1"]
    [refused] = result.unschedulable
    assert refused.reasons == ((Reason.INSUFFICIENT_EPHEMERAL_STORAGE, 1),)
    assert refused.message == "0/1 hosts: 1 insufficient ephemeral-storage"


@pytest.mark.parametrize("schedule", IMPLEMENTATIONS)
def test_a_host_without_the_capacity_is_unbounded(schedule: Schedule) -> None:
    pods = [PodRequest(f"ns/p{i}", ephemeral_storage=400 * GiB) for i in range(3)]
    result = schedule([_host("h1", None)], pods)
    assert len(result.bindings) == 3 and not result.unschedulable


@pytest.mark.parametrize("schedule", IMPLEMENTATIONS)
def test_running_pods_count(schedule: Schedule) -> None:
    kept = PodRequest("ns/old", ephemeral_storage=8 * GiB, bound_host="h1")
    new = PodRequest("ns/new", ephemeral_storage=4 * GiB)
    result = schedule([_host("h1", 10 * GiB), _host("h2", 10 * GiB)], [kept, new])
    assert result.bindings == {"ns/new": "h2", "ns/old": "h1"}


def test_the_adapter_maps_requests_limits_and_the_host_capacity() -> None:
    host = b.host("h1")
    info = binding.host_info(host, True)
    assert info.ephemeral_storage == HostInfo("x").ephemeral_storage  # undeclared: unbounded
    declared = binding.host_info(dataclasses.replace(host, ephemeral_storage_capacity=GiB), True)
    assert declared.ephemeral_storage == GiB
    spec = b.spec(
        b.container("a", resources=workloads.Resources(ephemeral_storage_request=GiB)),
        b.container("b", resources=workloads.Resources(ephemeral_storage_limit=2 * GiB)),
    )
    assert spec.ephemeral_storage_request == 3 * GiB
    assert binding.requests_label(spec).endswith(",ephemeral-storage=3221225472")
    assert "ephemeral" not in binding.requests_label(b.spec())  # other pods' labels unchanged
