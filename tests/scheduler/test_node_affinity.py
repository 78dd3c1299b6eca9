"""Node affinity (`affinity.nodeAffinity`): every operator matches as in Kubernetes, required
terms filter hosts (reason "didn't match Pod's node affinity/selector"), preferred terms score
them before the other preferences, and the numpy scheduler equals the reference with them."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.scheduler import placement, predicates, reference, topology
from reconciler.scheduler.inputs import HostInfo, PodRequest
from reconciler.scheduler.nodeterms import (
    NAME_FIELD,
    NodeAffinity,
    NodeOperator,
    Preferred,
    Requirement,
    Term,
)
from reconciler.scheduler.result import Placement, Reason
from tests.scheduler import test_topology

GI = 1 << 30
HOSTNAME = topology.HOSTNAME
SCHEDULERS = [placement.schedule, reference.schedule]


def _req(key: str, op: str, *values: str) -> Requirement:
    return Requirement(key, NodeOperator(op), values)


def _host(name: str, **labels: str) -> HostInfo:
    return HostInfo(name=name, cpu_millis=4000, memory_bytes=8 * GI, labels=labels)


def _pod(key: str, affinity: NodeAffinity | None, owner: str | None = None) -> PodRequest:
    return PodRequest(key=key, owner=owner, cpu_millis=100, node_affinity=affinity)


def _required(*terms: tuple[Requirement, ...]) -> NodeAffinity:
    return NodeAffinity(required=tuple(Term(t) for t in terms))


# -- matching ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requirement", "value", "expected"),
    [
        (_req("zone", "In", "a", "b"), "a", True),
        (_req("zone", "In", "a", "b"), "c", False),
        (_req("zone", "In", "a"), None, False),
        (_req("zone", "NotIn", "a"), "b", True),
        (_req("zone", "NotIn", "a"), "a", False),
        (_req("zone", "NotIn", "a"), None, True),  # no label: not in the list
        (_req("zone", "Exists"), "", True),
        (_req("zone", "Exists"), None, False),
        (_req("zone", "DoesNotExist"), None, True),
        (_req("zone", "DoesNotExist"), "a", False),
        (_req("cores", "Gt", "4"), "8", True),
        (_req("cores", "Gt", "4"), "4", False),
        (_req("cores", "Gt", "-1"), "0", True),
        (_req("cores", "Gt", "4"), "+5", True),  # Go's ParseInt takes a sign
        (_req("cores", "Gt", "4"), "five", False),  # not an integer: no match
        (_req("cores", "Gt", "4"), "1_0", False),  # Python's int() would take it
        (_req("cores", "Gt", "4"), " 9", False),
        (_req("cores", "Gt", "4"), None, False),
        (_req("cores", "Lt", "4"), "3", True),
        (_req("cores", "Lt", "4"), "4", False),
        (_req("cores", "Lt", "4"), None, False),  # Lt does not match a missing label either
        (_req("cores", "Lt", "4"), "99999999999999999999", False),  # beyond int64
    ],
)
def test_every_operator(requirement: Requirement, value: str | None, expected: bool) -> None:
    assert requirement.matches_value(value) is expected


def test_hostname_label_and_name_field() -> None:
    name_in = Requirement(NAME_FIELD, NodeOperator.IN, ("h1",), field=True)
    name_not_in = Requirement(NAME_FIELD, NodeOperator.NOT_IN, ("h1",), field=True)
    assert name_in.matches("h1", {}) and not name_in.matches("h2", {})
    assert name_not_in.matches("h2", {}) and not name_not_in.matches("h1", {})
    # matchFields reads the name even when a label named metadata.name says otherwise
    assert name_in.matches("h1", {NAME_FIELD: "x"})
    implicit = _req(HOSTNAME, "In", "h1")
    assert implicit.matches("h1", {}) and not implicit.matches("h2", {})
    assert not _req(HOSTNAME, "DoesNotExist").matches("h1", {})
    assert _req(HOSTNAME, "In", "n1").matches("h1", {HOSTNAME: "n1"})  # set by the Host


def test_terms_are_ored_and_requirements_anded() -> None:
    affinity = _required(
        (_req("zone", "In", "a"), _req("disk", "In", "ssd")), (_req("gpu", "Exists"),)
    )
    assert affinity.allows("x", {"zone": "a", "disk": "ssd"})
    assert not affinity.allows("x", {"zone": "a", "disk": "hdd"})
    assert affinity.allows("x", {"gpu": ""})
    assert not NodeAffinity(required=(Term(),)).allows("x", {})  # an empty term matches none
    assert NodeAffinity().allows("x", {})
    preferred = NodeAffinity(
        preferred=(Preferred(10, Term((_req("zone", "In", "a"),))), Preferred(3, Term()))
    )
    assert preferred.score("x", {"zone": "a"}) == 10
    assert preferred.score("x", {"zone": "b"}) == 0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: _req("zone", "In"), "needs at least one value"),
        (lambda: _req("zone", "NotIn"), "needs at least one value"),
        (lambda: _req("zone", "Exists", "a"), "takes no values"),
        (lambda: _req("zone", "DoesNotExist", "a"), "takes no values"),
        (lambda: _req("cores", "Gt"), "exactly one integer"),
        (lambda: _req("cores", "Lt", "1", "2"), "exactly one integer"),
        (lambda: _req("cores", "Gt", "1.5"), "exactly one integer"),
        (lambda: _req("", "Exists"), "needs a key"),
        (lambda: Requirement("metadata.labels", NodeOperator.IN, ("a",), True), "only metadata"),
        (lambda: Requirement(NAME_FIELD, NodeOperator.EXISTS, (), True), "In or NotIn"),
        (lambda: Requirement(NAME_FIELD, NodeOperator.IN, ("a", "b"), True), "exactly one"),
        (lambda: Preferred(0, Term()), "weight"),
        (lambda: Preferred(101, Term()), "weight"),
        (lambda: NodeAffinity(required=()), "at least one node selector term"),
    ],
)
def test_invalid_values_are_refused(build: object, message: str) -> None:
    assert callable(build)
    with pytest.raises(ValueError, match=message):
        build()


# -- filter and score, both schedulers --------------------------------------------------------

HOSTS = [_host("h1", zone="a"), _host("h2", zone="a"), _host("h3", zone="b")]


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_required_in_puts_every_replica_on_matching_hosts(schedule: object) -> None:
    assert callable(schedule)
    affinity = _required((_req("zone", "In", "b"),))
    pods = [_pod(f"ns/p{i}", affinity, owner="web") for i in range(3)]
    result: Placement = schedule(HOSTS, pods)
    assert set(result.bindings.values()) == {"h3"}


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_required_not_in_keeps_pods_off_a_host(schedule: object) -> None:
    assert callable(schedule)
    affinity = _required((_req(HOSTNAME, "NotIn", "h1"),))
    pods = [_pod(f"ns/p{i}", affinity, owner="web") for i in range(4)]
    result: Placement = schedule(HOSTS, pods)
    assert sorted(result.bindings.values()) == ["h2", "h2", "h3", "h3"]


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_no_matching_host_is_unschedulable_with_kube_schedulers_words(schedule: object) -> None:
    assert callable(schedule)
    affinity = _required((_req("zone", "In", "c"),), (_req("gpu", "Exists"),))
    result: Placement = schedule(
        [*HOSTS, dataclasses.replace(HOSTS[0], name="h4", ready=False)], [_pod("ns/p", affinity)]
    )
    assert result.messages() == {
        "ns/p": "0/4 hosts: 3 didn't match Pod's node affinity/selector, 1 host not ready"
    }
    assert result.unschedulable[0].reasons[0][0] is Reason.NODE_SELECTOR_MISMATCH


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_match_fields_by_name(schedule: object) -> None:
    assert callable(schedule)
    field = Requirement(NAME_FIELD, NodeOperator.IN, ("h2",), field=True)
    result: Placement = schedule(HOSTS, [_pod("ns/p", _required((field,)))])
    assert result.bindings == {"ns/p": "h2"}


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_preferred_terms_rank_before_spreading_and_free_capacity(schedule: object) -> None:
    assert callable(schedule)
    affinity = NodeAffinity(
        preferred=(
            Preferred(10, Term((_req("zone", "In", "a"),))),
            Preferred(30, Term((_req(HOSTNAME, "In", "h3"),))),
            Preferred(25, Term((_req(HOSTNAME, "In", "h2"),))),
        )
    )
    # h3 scores 30, h2 35, h1 10: every replica goes to h2 although spreading would spread them
    pods = [_pod(f"ns/p{i}", affinity, owner="web") for i in range(3)]
    result: Placement = schedule(HOSTS, pods)
    assert set(result.bindings.values()) == {"h2"}
    # a preference never overrides the filter: h2 full, the next best (h3) takes it
    small = [dataclasses.replace(h, cpu_millis=100) if h.name == "h2" else h for h in HOSTS]
    result = schedule(small, pods[:2])
    assert sorted(result.bindings.values()) == ["h2", "h3"]


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_preferred_node_affinity_adds_to_the_pod_affinity_score(schedule: object) -> None:
    assert callable(schedule)
    mine = topology.LabelSelector.of({"app": "db"})
    near_db = topology.Rules(
        preferred_affinity=(topology.WeightedTerm(20, topology.Term(HOSTNAME, mine)),)
    )
    db = PodRequest("ns/db", labels={"app": "db"}, bound_host="h1")
    prefers_b = NodeAffinity(preferred=(Preferred(30, Term((_req("zone", "In", "b"),))),))
    web = dataclasses.replace(_pod("ns/web", prefers_b), rules=near_db)
    assert schedule(HOSTS, [db, web]).bindings["ns/web"] == "h3"  # 30 > 20
    weaker = NodeAffinity(preferred=(Preferred(10, Term((_req("zone", "In", "b"),))),))
    web = dataclasses.replace(web, node_affinity=weaker)
    assert schedule(HOSTS, [db, web]).bindings["ns/web"] == "h1"  # 20 > 10


@pytest.mark.parametrize("schedule", SCHEDULERS)
def test_spread_counts_only_hosts_the_node_affinity_allows(schedule: object) -> None:
    """nodeAffinityPolicy Honor: a zone no allowed host is in is not a domain (else its 0
    pods would make every other zone's skew too high)."""
    assert callable(schedule)
    mine = topology.LabelSelector.of({"app": "web"})
    spread = topology.Rules(spread=(topology.SpreadConstraint(1, "zone", selector=mine),))
    affinity = _required((_req("zone", "In", "a"),))
    pods = [
        dataclasses.replace(_pod(f"ns/p{i}", affinity), labels={"app": "web"}, rules=spread)
        for i in range(3)
    ]
    result: Placement = schedule(HOSTS, pods)
    assert not result.unschedulable
    assert set(result.bindings.values()) <= {"h1", "h2"}


def test_a_bound_pod_stays_where_its_affinity_no_longer_allows() -> None:
    """IgnoredDuringExecution: a running pod is not moved."""
    affinity = _required((_req("zone", "In", "b"),))
    pod = dataclasses.replace(_pod("ns/p", affinity), bound_host="h1")
    for schedule in SCHEDULERS:
        assert schedule(HOSTS, [pod]).bindings == {"ns/p": "h1"}


def test_static_failure_names_the_node_affinity() -> None:
    pod = _pod("ns/p", _required((_req("zone", "NotIn", "a"),)))
    assert predicates.static_failure(HOSTS[0], pod) is Reason.NODE_SELECTOR_MISMATCH
    assert predicates.static_failure(HOSTS[2], pod) is None


# -- the numpy scheduler equals the reference -------------------------------------------------

VALUES = st.lists(st.sampled_from(["x", "y", "z", "2", "7"]), min_size=1, max_size=2, unique=True)
REQUIREMENTS = st.one_of(
    st.builds(
        Requirement,
        key=st.sampled_from(["zone", "rack", HOSTNAME]),
        operator=st.sampled_from([NodeOperator.IN, NodeOperator.NOT_IN]),
        values=VALUES.map(tuple),
    ),
    st.builds(
        Requirement,
        key=st.sampled_from(["zone", "rack", "cores", HOSTNAME]),
        operator=st.sampled_from([NodeOperator.EXISTS, NodeOperator.DOES_NOT_EXIST]),
    ),
    st.builds(
        Requirement,
        key=st.just("cores"),
        operator=st.sampled_from([NodeOperator.GT, NodeOperator.LT]),
        values=st.sampled_from([("2",), ("5",), ("-1",)]),
    ),
    st.builds(
        Requirement,
        key=st.just(NAME_FIELD),
        operator=st.sampled_from([NodeOperator.IN, NodeOperator.NOT_IN]),
        values=st.sampled_from(list("abcd")).map(lambda name: (name,)),
        field=st.just(True),
    ),
)
TERMS = st.builds(Term, st.lists(REQUIREMENTS, max_size=2).map(tuple))
AFFINITIES = st.builds(
    NodeAffinity,
    required=st.none() | st.lists(TERMS, min_size=1, max_size=2).map(tuple),
    preferred=st.lists(
        st.builds(Preferred, weight=st.sampled_from([1, 5, 100]), term=TERMS), max_size=2
    ).map(tuple),
)


@st.composite
def _cluster(draw: st.DrawFn) -> tuple[list[HostInfo], list[PodRequest]]:
    hosts = draw(test_topology.hosts_strategy())
    hosts = [
        dataclasses.replace(
            host, labels={**host.labels, "cores": draw(st.sampled_from(["1", "4", "8", "x"]))}
        )
        if draw(st.booleans())
        else host
        for host in hosts
    ]
    pods = draw(test_topology.pods_strategy())
    pods = [dataclasses.replace(pod, node_affinity=draw(st.none() | AFFINITIES)) for pod in pods]
    return hosts, pods


@settings(max_examples=150, deadline=None)
@given(cluster=_cluster())
def test_fast_equals_reference_with_node_affinity(
    cluster: tuple[list[HostInfo], list[PodRequest]],
) -> None:
    hosts, pods = cluster
    fast = placement.schedule(hosts, pods)
    assert fast == reference.schedule(hosts, pods)
    by_name = {host.name: host for host in hosts}
    for pod in pods:
        host = fast.bindings.get(pod.key)
        if host is not None and pod.bound_host != host:
            assert predicates.node_affinity_allows(by_name[host], pod)


@settings(max_examples=150, deadline=None)
@given(cluster=_cluster(), seed=st.integers(0, 3))
def test_fast_equals_reference_without_pod_rules(
    cluster: tuple[list[HostInfo], list[PodRequest]], seed: int
) -> None:
    """Pods with node affinity and no pod rules take the path without topology columns."""
    hosts, pods = cluster
    pods = [dataclasses.replace(pod, rules=None, bound_host=None) for pod in pods[seed:]]
    assert placement.schedule(hosts, pods) == reference.schedule(hosts, pods)
