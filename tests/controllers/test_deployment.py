"""The Deployment controller's rollout step, with data alone: which new pods are wanted, which old
pods stay or go, for RollingUpdate (maxSurge/maxUnavailable, minReadySeconds) and Recreate."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.controllers import deployment as ctl
from reconciler.model import base, hoststate, workloads
from reconciler.plan import expand
from tests.plan import builders

NOW = 1_000_000.0


def _deployment(
    replicas: int = 4,
    surge: int | str = 1,
    unavailable: int | str = 0,
    strategy: workloads.StrategyType = workloads.StrategyType.ROLLING_UPDATE,
    min_ready: int = 0,
    image: str = "web:2",
) -> workloads.Deployment:
    d = builders.deployment(
        replicas=replicas, pod_spec=builders.spec(builders.container(image=image))
    )
    return dataclasses.replace(
        d,
        strategy=strategy,
        rolling_update=workloads.RollingUpdate(surge, unavailable),
        min_ready_seconds=min_ready,
    )


def _pod(
    d: workloads.Deployment,
    name: str,
    digest: str,
    *,
    ready: bool = True,
    since: float = NOW - 100,
    host: str = "h1",
) -> hoststate.ObservedPod:
    return hoststate.ObservedPod(
        namespace=d.meta.namespace,
        name=name,
        host=host,
        podman_id=f"id-{name}",
        spec_hash="s",
        owner=expand.owner_of(d),
        labels=base.FrozenMap({hoststate.LABEL_TEMPLATE_HASH: digest}),
        phase=hoststate.PodPhase.RUNNING,
        ready=ready,
        ready_since=since,
    )


def _old(d: workloads.Deployment, n: int, **kw: object) -> list[hoststate.ObservedPod]:
    return [_pod(d, f"web-old-{i}", "old", **kw) for i in range(n)]  # type: ignore[arg-type]


def _new(d: workloads.Deployment, n: int, **kw: object) -> list[hoststate.ObservedPod]:
    digest = expand.template_hash(d.template)
    return [_pod(d, f"web-{digest}-{i}", digest, **kw) for i in range(n)]  # type: ignore[arg-type]


def _brief(step: ctl.Step) -> tuple[int, int, int]:
    """(new pods wanted, old pods kept, old pods removed)."""
    return len(step.pods), len(step.keep), len(step.remove)


@pytest.mark.parametrize(
    ("value", "replicas", "round_up", "expected"),
    [
        ("25%", 10, True, 3),  # surge rounds up
        ("25%", 10, False, 2),  # unavailable rounds down
        ("25%", 3, False, 0),
        ("100%", 4, True, 4),
        (2, 10, True, 2),
        ("0%", 5, True, 0),
    ],
)
def test_percentages_round_as_kubernetes(
    value: int | str, replicas: int, round_up: bool, expected: int
) -> None:
    assert ctl.scaled(value, replicas, round_up=round_up) == expected


def test_surge_and_unavailable_both_zero_after_rounding_allows_one_unavailable() -> None:
    d = _deployment(replicas=3, surge="10%", unavailable="10%")
    assert ctl.surge_and_unavailable(d) == (1, 0)  # surge 0.3 rounds up to 1
    tiny = _deployment(replicas=1, surge=0, unavailable="50%")
    assert ctl.surge_and_unavailable(tiny) == (0, 1)


def test_surge_one_unavailable_zero_adds_one_new_pod_and_removes_nothing() -> None:
    d = _deployment()
    step = ctl.step(d, d.template, _old(d, 4), NOW)
    assert _brief(step) == (1, 4, 0)
    assert not step.complete
    assert step.counts.available == 4


def test_old_pod_goes_only_when_a_new_pod_is_available_and_the_next_new_one_starts() -> None:
    d = _deployment()
    step = ctl.step(d, d.template, _old(d, 4) + _new(d, 1), NOW)
    assert _brief(step) == (2, 3, 1)  # one old out (wave 0), one more new in (wave 1)


def test_a_new_pod_not_yet_ready_holds_every_old_pod() -> None:
    d = _deployment()
    step = ctl.step(d, d.template, _old(d, 4) + _new(d, 1, ready=False), NOW)
    assert _brief(step) == (1, 4, 0)
    assert "waiting" in step.waiting or "new pods created" in step.waiting
    name = step.pods[0].name  # the unready new pod is named, with where to see why
    assert f"waiting for new pod {name} to become available" in step.waiting
    assert f"`reconciler describe pod {name} -n {d.meta.namespace}` shows why" in step.waiting


def test_a_stuck_rollout_names_at_most_three_unready_new_pods() -> None:
    d = _deployment(replicas=5, surge=5, unavailable=0)
    step = ctl.step(d, d.template, _new(d, 5, ready=False), NOW)
    assert step.waiting.startswith("waiting for new pods ")
    assert " and 2 more to become available" in step.waiting
    ready = ctl.step(d, d.template, _new(d, 5), NOW)
    assert ready.complete and ready.waiting == ""


def test_min_ready_seconds_delays_availability() -> None:
    d = _deployment(min_ready=10)
    fresh = _new(d, 1, since=NOW - 3)
    assert _brief(ctl.step(d, d.template, _old(d, 4) + fresh, NOW)) == (1, 4, 0)
    settled = _new(d, 1, since=NOW - 11)
    assert _brief(ctl.step(d, d.template, _old(d, 4) + settled, NOW)) == (2, 3, 1)


def test_max_unavailable_lets_old_pods_go_before_new_ones_are_ready() -> None:
    d = _deployment(replicas=4, surge=0, unavailable=2)
    step = ctl.step(d, d.template, _old(d, 4), NOW)
    assert _brief(step) == (2, 2, 2)  # 2 old out, 2 new in their place
    assert step.counts.available - len(step.remove) >= 4 - 2


def test_unavailable_old_pods_go_first() -> None:
    d = _deployment(replicas=3, surge=1, unavailable=0)
    old = [_pod(d, "web-old-broken", "old", ready=False), *_old(d, 2)]
    step = ctl.step(d, d.template, [*old, *_new(d, 1)], NOW)
    assert [p.name for p in step.remove] == ["web-old-broken"]


def test_available_never_drops_below_replicas_minus_max_unavailable() -> None:
    """Walk a whole rollout, making every wanted pod ready at once; at every step the pods that
    stay available are at least replicas - maxUnavailable."""
    for replicas, surge, unavailable in [(4, 1, 0), (10, "25%", "25%"), (5, 0, 1), (3, 2, 1)]:
        d = _deployment(replicas=replicas, surge=surge, unavailable=unavailable)
        max_surge, max_unavailable = ctl.surge_and_unavailable(d)
        pods = _old(d, replicas)
        for _ in range(50):
            step = ctl.step(d, d.template, pods, NOW)
            staying = [p for p in pods if p not in step.remove]
            assert sum(1 for p in staying if p.ready) >= replicas - max_unavailable
            running_new = {p.name for p in pods} & {p.name for p in step.pods}
            total_after = len(staying) + len(step.pods) - len(running_new)
            assert total_after <= replicas + max_surge
            if step.complete:
                break
            digest = step.template_hash
            pods = list(step.keep) + [_pod(d, p.name, digest) for p in step.pods]
        else:
            pytest.fail(f"rollout of {replicas} replicas did not complete")


def test_recreate_removes_every_old_pod_before_creating() -> None:
    d = _deployment(strategy=workloads.StrategyType.RECREATE)
    step = ctl.step(d, d.template, _old(d, 4), NOW)
    assert _brief(step) == (0, 0, 4)
    after = ctl.step(d, d.template, [], NOW)
    assert _brief(after) == (4, 0, 0)


def test_stalled_rollout_changes_nothing() -> None:
    d = _deployment()
    pods = _old(d, 4) + _new(d, 1, ready=False)
    step = ctl.step(d, d.template, pods, NOW, stalled=True)
    assert _brief(step) == (1, 4, 0)
    assert not step.complete


def test_complete_when_all_new_pods_available_and_no_old_left() -> None:
    d = _deployment()
    step = ctl.step(d, d.template, _new(d, 4), NOW)
    assert step.complete
    assert step.counts == ctl.Counts(4, 4, 4, 4, 4, 4)


def test_scale_down_keeps_lowest_ordinals() -> None:
    d = _deployment(replicas=2)
    step = ctl.step(d, d.template, _new(d, 4), NOW)
    assert [p.name.rsplit("-", 1)[1] for p in step.pods] == ["0", "1"]


def test_readiness_without_prober_is_all_containers_running() -> None:
    d = _deployment()
    running = hoststate.ObservedContainer("app", "c1", "web:2", "running",
                                          started_at="2026-11-29T08:00:00+00:00")  # fmt: skip
    pod = dataclasses.replace(_pod(d, "p", "x"), ready=None, containers=(running,))
    ready, since = ctl.readiness(pod)
    assert ready and since > 0
    exited = dataclasses.replace(running, state="exited")
    assert ctl.readiness(dataclasses.replace(pod, containers=(exited,))) == (False, 0.0)


def test_a_ready_pod_is_available_at_once_without_min_ready_seconds() -> None:
    """Kubernetes' IsPodAvailable: with minReadySeconds 0, ready is enough, even when the prober
    marked the pod ready a moment after the reconcile's `now` was taken."""
    d = _deployment()
    just_ready = _new(d, 1, since=NOW + 0.01)
    assert ctl.available(just_ready[0], 0, NOW)
    assert not ctl.available(just_ready[0], 1, NOW)
    assert not ctl.available(_new(d, 1, ready=False)[0], 0, NOW)
    # so the step that follows the surge pod's creation already removes an old pod
    assert _brief(ctl.step(d, d.template, _old(d, 4) + just_ready, NOW)) == (2, 3, 1)


def test_ready_at_start_needs_no_probe_no_init_container_and_no_min_ready_seconds() -> None:
    assert ctl.ready_at_start(_deployment())
    assert not ctl.ready_at_start(_deployment(min_ready=5))
    probe = workloads.Probe(workloads.ProbeHandler.EXEC, command=("true",))
    plain = builders.container(image="web:2")
    for probed in (dataclasses.replace(plain, readiness_probe=probe),
                   dataclasses.replace(plain, startup_probe=probe)):  # fmt: skip
        d = dataclasses.replace(_deployment(), template=dataclasses.replace(
            _deployment().template, spec=builders.spec(probed)))  # fmt: skip
        assert not ctl.ready_at_start(d), probed
    init = builders.spec(builders.container(image="web:2"),
                         init_containers=(builders.container(name="init"),))  # fmt: skip
    d = dataclasses.replace(_deployment(), template=dataclasses.replace(
        _deployment().template, spec=init))  # fmt: skip
    assert not ctl.ready_at_start(d)
