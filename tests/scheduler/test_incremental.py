"""The numpy scheduler's incremental parts (request columns brought up to date by the hosts placed
on since, per-domain sums kept as pods are placed, the shortcut to hosts without a replica)
decide exactly as the plain reference does, on randomized clusters shaped like real ones:
Deployments whose replicas share one request and one set of rules, placed one after another."""

from __future__ import annotations

import random

import pytest

from reconciler.scheduler import hostfit, nodeterms, placement, reference, topology
from reconciler.scheduler.inputs import (
    HostInfo,
    HostPort,
    PodRequest,
    Taint,
    TaintEffect,
    Toleration,
    TolerationOperator,
)
from reconciler.scheduler.topology import (
    LabelSelector,
    Rules,
    SpreadConstraint,
    Term,
    Unsatisfiable,
    WeightedTerm,
)

GI = 1 << 30
HOSTNAME = topology.HOSTNAME
KEYS = ["zone", "rack", HOSTNAME]
SHARED = LabelSelector.of({"tier": "web"})


def _hosts(rng: random.Random, count: int) -> list[HostInfo]:
    hosts = []
    for i in range(count):
        labels = {}
        if rng.random() < 0.9:
            labels["zone"] = rng.choice("abc")
        if rng.random() < 0.8:
            labels["rack"] = f"r{rng.randrange(6)}"
        if rng.random() < 0.3:
            labels["disk"] = "ssd"
        taints: tuple[Taint, ...] = ()
        if rng.random() < 0.1:
            taints = (Taint("soon", "", TaintEffect.PREFER_NO_SCHEDULE),)
        elif rng.random() < 0.05:
            taints = (Taint("gpu", "", TaintEffect.NO_SCHEDULE),)
        hosts.append(
            HostInfo(
                name=f"h{i:03d}",
                ready=rng.random() > 0.05,
                cpu_millis=rng.choice([1000, 2000, 4000]),
                memory_bytes=rng.choice([2, 4, 8]) * GI,
                labels=labels,
                taints=taints,
            )
        )
    return hosts


def _rules(rng: random.Random, app: str, previous: str) -> Rules | None:
    mine = LabelSelector.of({"app": app})
    roll = rng.random()
    if roll < 0.35:
        return None
    when = rng.choice(list(Unsatisfiable))
    spread = tuple(
        SpreadConstraint(
            rng.choice([1, 1, 2]),
            key,
            when,
            rng.choice([mine, SHARED]),  # SHARED: pods of owners placed on other hosts too
            min_domains=rng.choice([None, 2, 5]) if when is Unsatisfiable.DO_NOT_SCHEDULE else None,
        )
        for key in rng.sample(KEYS, rng.choice([0, 1, 1, 2]))
    )
    anti = (Term(rng.choice(KEYS), mine),) if rng.random() < 0.3 else ()
    affinity = (Term("zone", LabelSelector.of({"app": previous})),) if rng.random() < 0.1 else ()
    weighted = tuple(
        WeightedTerm(rng.choice([1, 50, 100]), Term(rng.choice(KEYS), mine))
        for _ in range(rng.choice([0, 0, 1, 2]))
    )
    preferred = tuple(
        WeightedTerm(10, Term(rng.choice(KEYS), LabelSelector.of({"app": previous})))
        for _ in range(rng.choice([0, 0, 1]))
    )
    return Rules(spread, affinity, anti, preferred, weighted)


def _pods(rng: random.Random, hosts: list[HostInfo], owners: int) -> list[PodRequest]:
    """Owners with 1-12 replicas sharing request, labels and rules; some bound already."""
    pods = []
    for owner in range(owners):
        app = f"app{owner:02d}"
        rules = _rules(rng, app, f"app{owner - 1:02d}")
        selector = {"disk": "ssd"} if rng.random() < 0.1 else {}
        affinity = None
        if rng.random() < 0.15:
            zone = nodeterms.Requirement("zone", nodeterms.NodeOperator.IN, ("a", "b"))
            affinity = nodeterms.NodeAffinity(
                required=(nodeterms.Term((zone,)),) if rng.random() < 0.5 else None,
                preferred=(nodeterms.Preferred(30, nodeterms.Term((zone,))),),
            )
        tolerations: tuple[Toleration, ...] = ()
        if rng.random() < 0.2:
            tolerations = (Toleration("soon", TolerationOperator.EXISTS),)
        ports = frozenset({HostPort(8080)}) if rng.random() < 0.05 else frozenset()
        cpu = rng.choice([100, 250, 500])
        memory = rng.choice([256, 512, 1024]) << 20
        namespace = rng.choice(["ns0", "ns1"])
        labels = {"app": app, "tier": "web"} if rng.random() < 0.5 else {"app": app}
        for r in range(rng.randint(1, 12)):
            bound = rng.choice(hosts).name if rng.random() < 0.08 else None
            pods.append(PodRequest(
                key=f"{namespace}/{app}-{r:02d}", owner=f"{namespace}/{app}", cpu_millis=cpu,
                memory_bytes=memory, node_selector=selector, tolerations=tolerations,
                host_ports=ports, labels=labels, rules=rules, node_affinity=affinity,
                bound_host=bound,
            ))  # fmt: skip
    return pods


@pytest.mark.parametrize("seed", range(16))
def test_deployments_with_rules_equal_reference(seed: int) -> None:
    rng = random.Random(seed)
    hosts = _hosts(rng, 40)
    pods = _pods(rng, hosts, 30)
    fast = placement.schedule(hosts, pods)
    assert fast == reference.schedule(hosts, pods)
    assert len(fast.bindings) > len(pods) // 2, "most pods should find a host"


@pytest.mark.parametrize("seed", range(3))
def test_columns_recomputed_or_evicted_decide_the_same(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns always recomputed whole, or evicted at once, give the same placements."""
    rng = random.Random(100 + seed)
    hosts = _hosts(rng, 30)
    pods = _pods(rng, hosts, 20)
    expected = reference.schedule(hosts, pods)
    assert placement.schedule(hosts, pods) == expected
    monkeypatch.setattr(hostfit, "_STALE", 0)
    assert placement.schedule(hosts, pods) == expected
    monkeypatch.setattr(hostfit, "_STALE", 10**9)
    monkeypatch.setattr(hostfit, "_ENTRIES", 1)
    assert placement.schedule(hosts, pods) == expected


def test_replicas_fill_hosts_without_a_replica_before_doubling_up() -> None:
    """The shortcut (best host without a replica or penalty) and its fallback once every
    fitting host has one: two hosts, five replicas, the penalized host last."""
    hosts = [
        HostInfo("a", cpu_millis=4000, memory_bytes=4 * GI),
        HostInfo("b", cpu_millis=4000, memory_bytes=4 * GI,
                 taints=(Taint("soon", "", TaintEffect.PREFER_NO_SCHEDULE),)),
    ]  # fmt: skip
    pods = [PodRequest(f"ns/web-{i}", owner="web", cpu_millis=100) for i in range(5)]
    fast = placement.schedule(hosts, pods)
    assert fast == reference.schedule(hosts, pods)
    assert [fast.bindings[f"ns/web-{i}"] for i in range(5)] == ["a", "b", "a", "b", "a"]
