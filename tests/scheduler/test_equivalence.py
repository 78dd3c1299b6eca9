"""Property tests: the numpy scheduler returns exactly what the plain reference returns, the
answer does not depend on input order, and every placement respects the filters."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.scheduler import placement, predicates, reference
from reconciler.scheduler.inputs import (
    HostInfo,
    HostPort,
    PodRequest,
    Protocol,
    Taint,
    TaintEffect,
    Toleration,
    TolerationOperator,
)
from reconciler.scheduler.result import Placement

GI = 1 << 30
# Small value sets on purpose: they make ties, exact fits, shared ports and taint matches common.
HOST_NAMES = ["a", "b", "c", "d", "e", "f", "g", "h"]
LABELS = st.dictionaries(st.sampled_from(["zone", "disk"]), st.sampled_from(["x", "y"]))
TAINTS = st.builds(
    Taint,
    key=st.sampled_from(["k1", "k2"]),
    value=st.sampled_from(["", "v"]),
    effect=st.sampled_from(list(TaintEffect)),
)
EFFECTS = st.none() | st.sampled_from(list(TaintEffect))
TOLERATIONS = st.one_of(
    st.builds(
        Toleration, key=st.just(""), operator=st.just(TolerationOperator.EXISTS), effect=EFFECTS
    ),
    st.builds(
        Toleration,
        key=st.sampled_from(["k1", "k2"]),
        operator=st.just(TolerationOperator.EXISTS),
        effect=EFFECTS,
    ),
    st.builds(
        Toleration,
        key=st.sampled_from(["k1", "k2"]),
        operator=st.just(TolerationOperator.EQUAL),
        value=st.sampled_from(["", "v"]),
        effect=EFFECTS,
    ),
)
PORTS = st.frozensets(
    st.sampled_from([HostPort(80), HostPort(80, Protocol.UDP), HostPort(443)]), max_size=2
)


@st.composite
def hosts_strategy(draw: st.DrawFn) -> list[HostInfo]:
    names = draw(st.lists(st.sampled_from(HOST_NAMES), unique=True, max_size=6))
    return [
        HostInfo(
            name=name,
            ready=draw(st.booleans() | st.just(True)),
            cpu_millis=draw(st.sampled_from([0, 1000, 2000, 4000])),
            memory_bytes=draw(st.sampled_from([0, GI, 2 * GI, 4 * GI])),
            labels=draw(LABELS),
            taints=tuple(draw(st.lists(TAINTS, max_size=2))),
            pod_ports=draw(st.sampled_from([0, 1, 3, 3000])),
        )
        for name in names
    ]


@st.composite
def pods_strategy(draw: st.DrawFn) -> list[PodRequest]:
    keys = draw(
        st.lists(
            st.builds(lambda ns, n: f"ns{ns}/p{n}", st.integers(0, 2), st.integers(0, 30)),
            unique=True,
            max_size=25,
        )
    )
    return [
        PodRequest(
            key=key,
            owner=draw(st.sampled_from([None, "o1", "o2", "o3"])),
            cpu_millis=draw(st.sampled_from([0, 250, 500, 1000, 3000])),
            memory_bytes=draw(st.sampled_from([0, GI // 2, GI, 3 * GI])),
            node_selector=draw(LABELS if draw(st.integers(0, 3)) == 0 else st.just({})),
            tolerations=tuple(draw(st.lists(TOLERATIONS, max_size=2))),
            host_ports=draw(PORTS if draw(st.integers(0, 2)) == 0 else st.just(frozenset())),
            bound_host=draw(st.none() | st.sampled_from([*HOST_NAMES, "gone"])),
            pod_ports=draw(st.sampled_from([0, 0, 1, 2])),
        )
        for key in keys
    ]


@settings(max_examples=400, deadline=None)
@given(hosts=hosts_strategy(), pods=pods_strategy())
def test_fast_equals_reference(hosts: list[HostInfo], pods: list[PodRequest]) -> None:
    assert placement.schedule(hosts, pods) == reference.schedule(hosts, pods)


@settings(max_examples=100, deadline=None)
@given(hosts=hosts_strategy(), pods=pods_strategy(), seed=st.integers(0, 2**32))
def test_input_order_does_not_matter(
    hosts: list[HostInfo], pods: list[PodRequest], seed: int
) -> None:
    first = placement.schedule(hosts, pods)
    rng = random.Random(seed)
    rng.shuffle(hosts)
    rng.shuffle(pods)
    assert placement.schedule(hosts, pods) == first


def _check_invariants(hosts: list[HostInfo], pods: list[PodRequest], result: Placement) -> None:
    by_name = {host.name: host for host in hosts}
    by_key = {pod.key: pod for pod in pods}
    unschedulable = {entry.pod: entry for entry in result.unschedulable}
    assert set(result.bindings).isdisjoint(unschedulable)
    assert set(result.bindings) | set(unschedulable) == set(by_key)

    sticky = {
        pod.key for pod in pods if pod.bound_host in by_name and by_name[pod.bound_host].ready
    }
    for key in sticky:
        assert result.bindings[key] == by_key[key].bound_host

    on_host: dict[str, list[PodRequest]] = defaultdict(list)
    for key, host_name in result.bindings.items():
        on_host[host_name].append(by_key[key])
    for host_name, placed in on_host.items():
        host = by_name[host_name]
        new = [pod for pod in placed if pod.key not in sticky]
        for pod in new:
            assert predicates.static_failure(host, pod) is None
        if new:
            assert sum(pod.cpu_millis for pod in placed) <= host.cpu_millis
            assert sum(pod.memory_bytes for pod in placed) <= host.memory_bytes
        for pod in new:
            others = [other for other in placed if other is not pod]
            for other in others:
                assert not pod.host_ports & other.host_ports

    for entry in unschedulable.values():
        assert entry.hosts == len(hosts)
        assert sum(n for _, n in entry.reasons) == len(hosts)
        counts = [n for _, n in entry.reasons]
        assert counts == sorted(counts, reverse=True)
        assert entry.message.startswith(f"0/{len(hosts)} hosts: ")


@settings(max_examples=200, deadline=None)
@given(hosts=hosts_strategy(), pods=pods_strategy())
def test_placements_respect_filters(hosts: list[HostInfo], pods: list[PodRequest]) -> None:
    _check_invariants(hosts, pods, placement.schedule(hosts, pods))


def _random_cluster(seed: int, hosts: int, pods: int) -> tuple[list[HostInfo], list[PodRequest]]:
    """A larger instance than hypothesis draws: many owners, shapes, selectors and ports."""
    rng = random.Random(seed)
    host_list = [
        HostInfo(
            name=f"host-{i:03d}",
            ready=rng.random() > 0.05,
            cpu_millis=rng.choice([1000, 2000, 4000, 8000]),
            memory_bytes=rng.choice([1, 2, 4, 8]) * GI,
            labels={"zone": rng.choice("abc")} if rng.random() < 0.7 else {},
            taints=(Taint("k", rng.choice(["", "v"]), rng.choice(list(TaintEffect))),)
            if rng.random() < 0.2
            else (),
        )
        for i in range(hosts)
    ]
    pod_list = [
        PodRequest(
            key=f"ns/p{i:04d}",
            owner=f"o{rng.randrange(pods // 5)}" if rng.random() < 0.9 else None,
            cpu_millis=rng.choice([0, 100, 250, 500, 1000, 2000]),
            memory_bytes=rng.choice([0, 128, 256, 512, 1024, 2048]) << 20,
            node_selector={"zone": rng.choice("abc")} if rng.random() < 0.2 else {},
            tolerations=(Toleration("k", TolerationOperator.EXISTS),) if rng.random() < 0.3 else (),
            host_ports=frozenset({HostPort(rng.choice([80, 443]))})
            if rng.random() < 0.1
            else frozenset(),
            bound_host=rng.choice([*(h.name for h in host_list[:20]), "gone"])
            if rng.random() < 0.1
            else None,
        )
        for i in range(pods)
    ]
    return host_list, pod_list


def test_fast_equals_reference_on_larger_clusters() -> None:
    for seed in range(3):
        hosts, pods = _random_cluster(seed, hosts=120, pods=600)
        fast = placement.schedule(hosts, pods)
        assert fast == reference.schedule(hosts, pods)
        assert fast.unschedulable, "the instance should be tight enough to leave some pods out"
        assert len(set(fast.bindings.values())) > 50
        _check_invariants(hosts, pods, fast)


def test_shape_cache_eviction_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    hosts, pods = _random_cluster(7, hosts=60, pods=300)
    expected = reference.schedule(hosts, pods)
    monkeypatch.setattr(placement, "_SHAPE_CACHE", 1)
    assert placement.schedule(hosts, pods) == expected
