"""The prune guard's rule with data alone: which pods count as pruned, when a revision is held,
what lifts it, and the words of its message."""

from __future__ import annotations

from reconciler.model import hoststate, objects
from reconciler.plan import pipeline, pruneguard
from tests.plan import builders as b

HOSTS = ("h1", "h2", "h3")


def _running(*items: objects.Object) -> tuple[hoststate.ObservedPod, ...]:
    """The pods hosts report after `items` (with the hosts) were applied."""
    desired = b.state(*(b.host(h) for h in HOSTS), *items)
    return b.running(pipeline.build_plan(desired, b.observations(*HOSTS), "r1"))


def _judge(pods: tuple[hoststate.ObservedPod, ...], *items: objects.Object,
           policy: pruneguard.Policy | None = None,
           down: tuple[str, ...] = ()) -> pruneguard.Verdict:  # fmt: skip
    desired = b.state(*(b.host(h) for h in HOSTS), *items)
    up = tuple(h for h in HOSTS if h not in down)
    seen = b.observations(*up, down=down, pods=pods)
    return pruneguard.judge(desired, seen, policy or pruneguard.Policy())


WORKLOADS = (
    b.deployment("a", replicas=2), b.deployment("b", replicas=2), b.deployment("c", replicas=3),
    b.pod("solo"), b.pod("other"),
)  # fmt: skip  (9 pods of 5 objects)


def test_an_empty_revision_is_held_with_the_counts_and_objects() -> None:
    verdict = _judge(_running(*WORKLOADS))
    assert verdict.blocked and not verdict.allowed
    assert (verdict.pruned, verdict.managed) == (9, 9)
    assert verdict.removed == (
        "Deployment/default/a", "Deployment/default/b", "Deployment/default/c",
        "Pod/default/other", "Pod/default/solo",
    )  # fmt: skip
    assert "would delete 9 of 9 managed pods (every managed pod) of 5 objects" in verdict.message
    assert pruneguard.OVERRIDE_FILE in verdict.message and "held" in verdict.message


def test_more_than_the_share_is_held_and_at_most_the_share_is_not() -> None:
    pods = _running(*WORKLOADS)  # a:2 b:2 c:3 solo other: 9 pods
    held = _judge(pods, WORKLOADS[2], WORKLOADS[4])  # a, b, solo go: 5 of 9 (56%)
    assert held.blocked and (held.pruned, held.managed) == (5, 9)
    assert "56%, more than the 50% allowed" in held.message
    kept = _judge(pods, WORKLOADS[0], WORKLOADS[2])  # b, solo, other go: 4 of 9 (44%)
    assert not kept.blocked and kept.pruned == 4
    stricter = _judge(pods, WORKLOADS[0], WORKLOADS[2], policy=pruneguard.Policy(40))
    assert stricter.blocked


def test_removing_one_deployment_is_never_held_even_when_it_is_every_pod() -> None:
    big = b.deployment("big", replicas=8)
    pods = _running(big, b.pod("solo"))
    verdict = _judge(pods, b.pod("solo"))  # 8 of 9 pods, but one object
    assert not verdict.blocked and verdict.pruned == 8
    alone = _judge(_running(big))  # the only Deployment goes: every pod, one object
    assert not alone.blocked and alone.pruned == alone.managed == 8


def test_rollouts_and_scale_down_inside_kept_deployments_are_not_prunes() -> None:
    pods = _running(b.deployment("a", replicas=4), b.deployment("b", replicas=4))
    changed = b.deployment("a", replicas=1, pod_spec=b.spec(b.container(image="nginx:2")))
    verdict = _judge(pods, changed, b.deployment("b", replicas=1))
    assert verdict.pruned == 0 and not verdict.blocked


def test_a_removed_namespace_prunes_nothing_its_objects_still_declare() -> None:
    shop = (b.namespace("shop"), b.deployment("a", namespace="shop"),
            b.deployment("b", namespace="shop"))  # fmt: skip
    pods = _running(*shop)
    verdict = _judge(pods, *shop[1:])  # the Namespace is gone, its Deployments stay in git
    assert not verdict.blocked and verdict.pruned == 0 and verdict.managed == 4
    assert _judge(pods).blocked  # the whole namespace's objects gone: held


def test_the_override_lifts_the_hold_and_says_so() -> None:
    verdict = _judge(_running(*WORKLOADS), policy=pruneguard.Policy(allowed=True))
    assert not verdict.blocked and verdict.allowed and verdict.pruned == 9
    assert "held" not in verdict.message


def test_pods_on_unreachable_hosts_count_for_nothing() -> None:
    pods = _running(*WORKLOADS)
    verdict = _judge(pods, down=("h1",))
    on_h1 = sum(1 for p in pods if p.host == "h1")
    assert on_h1 and verdict.managed == verdict.pruned == len(pods) - on_h1


def test_nothing_running_and_nothing_pruned_are_never_held() -> None:
    assert not _judge(()).blocked
    assert not _judge(_running(*WORKLOADS), *WORKLOADS).blocked


def test_a_pod_with_an_owner_of_an_unknown_kind_counts_as_pruned() -> None:
    (pod,) = _running(b.pod("solo"))
    odd = hoststate.ObservedPod("default", "x", "h1", "id", "hash", owner="StatefulSet/db")
    assert pruneguard.object_of(odd) == "StatefulSet/default/db"
    assert _judge((pod, odd), b.pod("solo")).pruned == 1
