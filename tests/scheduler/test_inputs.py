"""Input values: validation on construction, and Kubernetes toleration semantics."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from reconciler.scheduler import placement, reference
from reconciler.scheduler.inputs import (
    MAX_QUANTITY,
    HostInfo,
    HostPort,
    PodRequest,
    Taint,
    TaintEffect,
    Toleration,
    TolerationOperator,
)
from reconciler.scheduler.result import Placement

Scheduler = Callable[[Iterable[HostInfo], Iterable[PodRequest]], Placement]

EQUAL, EXISTS = TolerationOperator.EQUAL, TolerationOperator.EXISTS
NO_SCHEDULE, PREFER, NO_EXECUTE = (
    TaintEffect.NO_SCHEDULE,
    TaintEffect.PREFER_NO_SCHEDULE,
    TaintEffect.NO_EXECUTE,
)

# (toleration, taint, tolerated)
TOLERATION_TABLE = [
    (Toleration(operator=EXISTS), Taint("any", "thing", NO_EXECUTE), True),
    (Toleration(operator=EXISTS, effect=NO_SCHEDULE), Taint("any", "", NO_SCHEDULE), True),
    (Toleration(operator=EXISTS, effect=NO_SCHEDULE), Taint("any", "", NO_EXECUTE), False),
    (Toleration("k", EXISTS), Taint("k", "v", PREFER), True),
    (Toleration("k", EXISTS), Taint("other", "v", NO_SCHEDULE), False),
    (Toleration("k", EQUAL, "v"), Taint("k", "v", NO_SCHEDULE), True),
    (Toleration("k", EQUAL, "v"), Taint("k", "w", NO_SCHEDULE), False),
    (Toleration("k", EQUAL, ""), Taint("k", "", NO_SCHEDULE), True),
    (Toleration("k", EQUAL, ""), Taint("k", "v", NO_SCHEDULE), False),
    (Toleration("k", EQUAL, "v", NO_EXECUTE), Taint("k", "v", NO_SCHEDULE), False),
    (Toleration("k", EQUAL, "v", NO_EXECUTE), Taint("k", "v", NO_EXECUTE), True),
]


@pytest.mark.parametrize(("toleration", "taint", "tolerated"), TOLERATION_TABLE)
def test_toleration_semantics(toleration: Toleration, taint: Taint, tolerated: bool) -> None:
    assert toleration.tolerates(taint) is tolerated


@pytest.mark.parametrize(
    "build",
    [
        lambda: Toleration(key="", operator=EQUAL, value="v"),
        lambda: Toleration(key="k", operator=EXISTS, value="v"),
        lambda: Taint(key=""),
        lambda: HostPort(0),
        lambda: HostPort(65536),
        lambda: HostInfo(name=""),
        lambda: HostInfo(name="h", cpu_millis=-1),
        lambda: HostInfo(name="h", memory_bytes=MAX_QUANTITY),
        lambda: PodRequest(key=""),
        lambda: PodRequest(key="ns/p", memory_bytes=-1),
        lambda: PodRequest(key="ns/p", cpu_millis=MAX_QUANTITY),
    ],
)
def test_invalid_values_are_refused(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        build()


@pytest.mark.parametrize("schedule", [placement.schedule, reference.schedule])
def test_duplicate_names_are_refused(schedule: Scheduler) -> None:
    with pytest.raises(ValueError, match="duplicate host name 'h'"):
        schedule([HostInfo("h"), HostInfo("h")], [])
    with pytest.raises(ValueError, match="duplicate pod key 'ns/p'"):
        schedule([HostInfo("h")], [PodRequest("ns/p"), PodRequest("ns/p", cpu_millis=1)])


@pytest.mark.parametrize("schedule", [placement.schedule, reference.schedule])
def test_zero_capacity_host_takes_only_pods_requesting_nothing(schedule: Scheduler) -> None:
    hosts = [HostInfo("empty"), HostInfo("z-real", cpu_millis=1000, memory_bytes=1 << 30)]
    pods = [PodRequest("ns/a"), PodRequest("ns/b", cpu_millis=1)]
    result = schedule(hosts, pods)
    # "empty" scores 0 (nothing free), "z-real" scores 2 (all free): the request-less pod still
    # prefers the real host; the other pod cannot use the empty one at all.
    assert dict(result.bindings) == {"ns/a": "z-real", "ns/b": "z-real"}
    only_empty = schedule([HostInfo("empty")], pods)
    assert dict(only_empty.bindings) == {"ns/a": "empty"}
    assert only_empty.messages() == {"ns/b": "0/1 hosts: 1 insufficient cpu"}
