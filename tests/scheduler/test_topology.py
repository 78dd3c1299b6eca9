"""Topology spread constraints and pod (anti-)affinity: the numpy scheduler equals the plain
reference on generated cases using them, and hand-written Kubernetes examples behave as in
Kubernetes (3 replicas with maxSkew 1 over zones; one pod per host by anti-affinity)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.scheduler import placement, reference, topology
from reconciler.scheduler.inputs import HostInfo, PodRequest, Taint, TaintEffect
from reconciler.scheduler.result import Placement, Reason
from reconciler.scheduler.topology import (
    LabelSelector,
    Operator,
    Requirement,
    Rules,
    SpreadConstraint,
    Term,
    Unsatisfiable,
    WeightedTerm,
)

GI = 1 << 30
HOSTNAME = topology.HOSTNAME
KEYS = st.sampled_from(["zone", "rack", HOSTNAME])
APPS = ["a", "b", "c"]
SELECTORS = st.one_of(
    st.none(),
    st.builds(lambda app: LabelSelector.of({"app": app}), st.sampled_from(APPS)),
    st.just(LabelSelector()),
    st.builds(
        lambda values: LabelSelector(
            match_expressions=(Requirement("app", Operator.IN, tuple(values)),)
        ),
        st.lists(st.sampled_from(APPS), min_size=1, max_size=2, unique=True),
    ),
    st.just(LabelSelector(match_expressions=(Requirement("tier", Operator.EXISTS),))),
    st.just(LabelSelector(match_expressions=(Requirement("app", Operator.NOT_IN, ("a",)),))),
    st.just(LabelSelector(match_expressions=(Requirement("tier", Operator.DOES_NOT_EXIST),))),
)
NAMESPACES = st.sampled_from([frozenset(), frozenset({"ns0"}), frozenset({"ns0", "ns1"})])
TERMS = st.builds(Term, topology_key=KEYS, selector=SELECTORS, namespaces=NAMESPACES)
WEIGHTED = st.builds(WeightedTerm, weight=st.sampled_from([1, 5, 100]), term=TERMS)
CONSTRAINTS = st.builds(
    SpreadConstraint,
    max_skew=st.sampled_from([1, 1, 2]),
    topology_key=KEYS,
    when_unsatisfiable=st.sampled_from(list(Unsatisfiable)),
    selector=SELECTORS,
)
RULES = st.builds(
    Rules,
    spread=st.lists(CONSTRAINTS, max_size=2).map(tuple),
    affinity=st.lists(TERMS, max_size=2).map(tuple),
    anti_affinity=st.lists(TERMS, max_size=2).map(tuple),
    preferred_affinity=st.lists(WEIGHTED, max_size=2).map(tuple),
    preferred_anti_affinity=st.lists(WEIGHTED, max_size=2).map(tuple),
)


@st.composite
def hosts_strategy(draw: st.DrawFn) -> list[HostInfo]:
    names = draw(st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=7))
    hosts = []
    for name in names:
        labels = draw(
            st.dictionaries(st.sampled_from(["zone", "rack"]), st.sampled_from(["x", "y", "z"]))
        )
        if draw(st.integers(0, 9)) == 0:
            labels[HOSTNAME] = draw(st.sampled_from(["a", "n1"]))  # set, not the implicit one
        hosts.append(
            HostInfo(
                name=name,
                ready=draw(st.booleans() | st.just(True)),
                cpu_millis=draw(st.sampled_from([1000, 4000])),
                memory_bytes=draw(st.sampled_from([2 * GI, 8 * GI])),
                labels=labels,
                taints=(Taint("k", "", TaintEffect.NO_SCHEDULE),)
                if draw(st.integers(0, 5)) == 0
                else (),
            )
        )
    return hosts


@st.composite
def pods_strategy(draw: st.DrawFn) -> list[PodRequest]:
    keys = draw(
        st.lists(
            st.builds(lambda ns, n: f"ns{ns}/p{n:02d}", st.integers(0, 1), st.integers(0, 40)),
            unique=True,
            max_size=20,
        )
    )
    pods = []
    for key in keys:
        labels = {"app": draw(st.sampled_from(APPS))}
        if draw(st.booleans()):
            labels["tier"] = "web"
        pods.append(
            PodRequest(
                key=key,
                owner=draw(st.sampled_from([None, "o1", "o2"])),
                cpu_millis=draw(st.sampled_from([0, 250, 1000])),
                memory_bytes=draw(st.sampled_from([0, GI])),
                node_selector=draw(st.just({}) | st.just({"zone": "x"})),
                bound_host=draw(st.none() | st.sampled_from(list("abcdefgh"))),
                labels=labels,
                rules=draw(st.none() | RULES),
            )
        )
    return pods


@settings(max_examples=80, deadline=None)
@given(hosts=hosts_strategy(), pods=pods_strategy())
def test_fast_equals_reference_with_rules(hosts: list[HostInfo], pods: list[PodRequest]) -> None:
    assert placement.schedule(hosts, pods) == reference.schedule(hosts, pods)


def _random_cluster(seed: int) -> tuple[list[HostInfo], list[PodRequest]]:
    """More hosts and pods than hypothesis draws: zones, racks, owners with spread and
    anti-affinity, some pods bound already."""
    rng = random.Random(seed)
    hosts = [
        HostInfo(
            name=f"h{i:03d}",
            ready=rng.random() > 0.05,
            cpu_millis=rng.choice([2000, 4000, 8000]),
            memory_bytes=rng.choice([4, 8]) * GI,
            labels={"zone": rng.choice("abc"), "rack": f"r{i % 7}"} if rng.random() < 0.9 else {},
        )
        for i in range(30)
    ]
    pods = []
    for owner in range(60):
        app = f"app{owner}"
        selector = LabelSelector.of({"app": app})
        roll = rng.random()
        rules: Rules | None = None
        if roll < 0.25:
            rules = Rules(
                spread=(
                    SpreadConstraint(
                        1, rng.choice(["zone", HOSTNAME]), rng.choice(list(Unsatisfiable)), selector
                    ),
                )
            )
        elif roll < 0.45:
            rules = Rules(anti_affinity=(Term(rng.choice(["rack", HOSTNAME]), selector),))
        elif roll < 0.55:
            rules = Rules(preferred_anti_affinity=(WeightedTerm(10, Term(HOSTNAME, selector)),))
        elif roll < 0.6:
            other = LabelSelector.of({"app": f"app{owner - 1}"})
            rules = Rules(affinity=(Term("zone", other),))
        for r in range(rng.randint(1, 10)):
            pods.append(PodRequest(
                key=f"ns/{app}-{r}", owner=app, cpu_millis=rng.choice([100, 500, 1000]),
                memory_bytes=rng.choice([256, 1024]) << 20, labels={"app": app}, rules=rules,
                bound_host=rng.choice([h.name for h in hosts]) if rng.random() < 0.1 else None,
            ))  # fmt: skip
    return hosts, pods


@pytest.mark.parametrize("seed", range(4))
def test_fast_equals_reference_on_larger_clusters_with_rules(seed: int) -> None:
    hosts, pods = _random_cluster(seed)
    fast = placement.schedule(hosts, pods)
    assert fast == reference.schedule(hosts, pods)
    assert fast.unschedulable


# -- Kubernetes examples ---------------------------------------------------------------------

Scheduler = Callable[[Iterable[HostInfo], Iterable[PodRequest]], Placement]
SCHEDULERS: list[Scheduler] = [placement.schedule, reference.schedule]


def _zones() -> list[HostInfo]:
    return [
        HostInfo(f"n{i}", cpu_millis=8000, memory_bytes=8 * GI, labels={"zone": zone})
        for i, zone in enumerate(["z1", "z1", "z2", "z2", "z3", "z3"])
    ]


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_three_replicas_max_skew_one_over_zones(schedule: Scheduler) -> None:
    hosts = _zones()
    web = LabelSelector.of({"app": "web"})
    rules = Rules(spread=(SpreadConstraint(1, "zone", selector=web),))
    # two web pods already run in z1: the skew rule forbids a third there until z2 and z3 catch up
    bound = [
        PodRequest(f"default/old-{i}", labels={"app": "web"}, bound_host="n0") for i in range(2)
    ]
    pods = [PodRequest(f"default/web-{i}", labels={"app": "web"}, rules=rules) for i in range(3)]
    result = schedule(hosts, [*bound, *pods])
    zones = Counter({h.name: h.labels["zone"] for h in hosts}[result.bindings[p.key]] for p in pods)
    assert zones == {"z2": 2, "z3": 1} or zones == {"z2": 1, "z3": 2}
    assert not result.unschedulable


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_skew_blocks_and_says_why(schedule: Scheduler) -> None:
    hosts = [
        HostInfo(h.name, cpu_millis=8000 if h.labels["zone"] == "z1" else 500,
                 memory_bytes=8 * GI, labels=h.labels)
        for h in _zones()[:4]
    ]  # fmt: skip
    web = LabelSelector.of({"app": "web"})
    rules = Rules(spread=(SpreadConstraint(1, "zone", selector=web),))
    bound = [PodRequest("default/old", labels={"app": "web"}, bound_host="n0")]
    pod = PodRequest("default/new", cpu_millis=1000, labels={"app": "web"}, rules=rules)
    result = schedule(hosts, [*bound, pod])
    assert result.messages() == {
        "default/new": "0/4 hosts: 2 didn't match pod topology spread constraints, "
        "2 insufficient cpu"
    }


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_required_anti_affinity_one_per_host_fourth_unschedulable(
    schedule: Scheduler,
) -> None:
    hosts = [HostInfo(f"h{i}", cpu_millis=4000, memory_bytes=4 * GI) for i in (1, 2, 3)]
    web = LabelSelector.of({"app": "web"})
    rules = Rules(anti_affinity=(Term(HOSTNAME, web),))
    pods = [
        PodRequest(f"default/web-{i}", owner="web", labels={"app": "web"}, rules=rules)
        for i in range(4)
    ]
    result = schedule(hosts, pods)
    assert sorted(result.bindings.values()) == ["h1", "h2", "h3"]
    assert [entry.pod for entry in result.unschedulable] == ["default/web-3"]
    assert result.unschedulable[0].message == "0/3 hosts: 3 didn't match pod anti-affinity rules"
    assert result.unschedulable[0].reasons == ((Reason.POD_ANTI_AFFINITY, 3),)


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_existing_pods_anti_affinity_keeps_others_away(schedule: Scheduler) -> None:
    hosts = [HostInfo(f"h{i}", cpu_millis=4000, memory_bytes=4 * GI) for i in (1, 2)]
    lonely = Rules(anti_affinity=(Term(HOSTNAME, LabelSelector.of({"app": "noisy"})),))
    pods = [
        PodRequest("default/db", labels={"app": "db"}, rules=lonely, bound_host="h1"),
        PodRequest("default/noisy-0", labels={"app": "noisy"}),
        PodRequest("default/noisy-1", labels={"app": "noisy"}),
    ]
    result = schedule(hosts, pods)
    assert result.bindings["default/noisy-0"] == "h2"
    assert result.bindings["default/noisy-1"] == "h2"
    only_h1 = [HostInfo("h1", cpu_millis=4000, memory_bytes=4 * GI)]
    result = schedule(only_h1, pods)
    assert result.messages()["default/noisy-0"] == (
        "0/1 hosts: 1 didn't satisfy existing pods anti-affinity rules"
    )


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_affinity_follows_and_first_of_group_goes_anywhere(schedule: Scheduler) -> None:
    hosts = _zones()
    cache = LabelSelector.of({"app": "cache"})
    near_cache = Rules(affinity=(Term("zone", cache),))
    pods = [
        PodRequest("default/cache", labels={"app": "cache"}, bound_host="n3"),
        PodRequest("default/web", labels={"app": "web"}, rules=near_cache),
    ]
    result = schedule(hosts, pods)
    assert result.bindings["default/web"] in {"n2", "n3"}
    alone = schedule(hosts, pods[1:])
    assert alone.messages() == {"default/web": "0/6 hosts: 6 didn't match pod affinity rules"}
    self_group = Rules(affinity=(Term("zone", LabelSelector.of({"app": "web"})),))
    first = PodRequest("default/web", labels={"app": "web"}, rules=self_group)
    assert schedule(hosts, [first]).bindings["default/web"] == "n0"


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_preferred_terms_rank_before_least_allocated(schedule: Scheduler) -> None:
    hosts = [
        HostInfo("big", cpu_millis=16000, memory_bytes=16 * GI),
        HostInfo("small", cpu_millis=2000, memory_bytes=2 * GI),
    ]
    near = Rules(
        preferred_affinity=(WeightedTerm(50, Term(HOSTNAME, LabelSelector.of({"app": "db"}))),)
    )
    pods = [
        PodRequest("default/db", labels={"app": "db"}, bound_host="small"),
        PodRequest("default/app", labels={"app": "app"}, rules=near),
        PodRequest("default/plain", labels={"app": "plain"}),
    ]
    result = schedule(hosts, pods)
    assert result.bindings["default/app"] == "small"
    assert result.bindings["default/plain"] == "big"


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_schedule_anyway_prefers_the_emptier_zone(schedule: Scheduler) -> None:
    hosts = _zones()
    web = LabelSelector.of({"app": "web"})
    soft = Rules(spread=(SpreadConstraint(1, "zone", Unsatisfiable.SCHEDULE_ANYWAY, web),))
    bound = [
        PodRequest("default/old-0", labels={"app": "web"}, bound_host="n0"),
        PodRequest("default/old-1", labels={"app": "web"}, bound_host="n2"),
    ]
    pod = PodRequest("default/new", labels={"app": "web"}, rules=soft)
    assert schedule(hosts, [*bound, pod]).bindings["default/new"] in {"n4", "n5"}


def test_selector_requirements_follow_kubernetes() -> None:
    with pytest.raises(ValueError, match="needs at least one value"):
        Requirement("app", Operator.IN)
    with pytest.raises(ValueError, match="takes no values"):
        Requirement("app", Operator.EXISTS, ("x",))
    with pytest.raises(ValueError, match="maxSkew"):
        SpreadConstraint(0, "zone")
    with pytest.raises(ValueError, match="weight"):
        WeightedTerm(101, Term("zone", None))
    not_in = Requirement("app", Operator.NOT_IN, ("a",))
    assert not_in.matches({}) and not_in.matches({"app": "b"}) and not not_in.matches({"app": "a"})
    assert LabelSelector().matches({"any": "thing"})
    assert not Term("zone", None).matches("ns", "ns", {})
