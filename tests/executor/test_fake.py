"""FakeExecutor: the in-memory HostExecutor behaves like the real one, observably."""

from __future__ import annotations

import dataclasses

from reconciler.executor import fake, protocol
from reconciler.model import hoststate
from tests.executor.test_podmanspec import make_run

Kind = hoststate.ActionKind
Outcome = hoststate.Outcome
TARGETS = [hoststate.HostTarget("h1", "10.0.0.1"), hoststate.HostTarget("h2", "10.0.0.2")]


def _create(run: hoststate.PodRun) -> hoststate.Action:
    return hoststate.Action(Kind.CREATE, run.host, run.namespace, run.name, run=run)


def test_is_a_host_executor() -> None:
    executor: protocol.HostExecutor = fake.FakeExecutor()
    assert executor.stats.mutations == 0


def test_create_observe_delete_round_trip() -> None:
    executor = fake.FakeExecutor(["h1", "h2"])
    run = make_run()
    seen: list[hoststate.ActionResult] = []
    (result,) = executor.apply(hoststate.Plan((_create(run),)), TARGETS, seen.append)
    assert result.outcome is Outcome.DONE, result.message
    assert seen == [result]
    observation = executor.observe(TARGETS)
    assert observation["h2"].reachable and observation["h2"].pods == ()
    (pod,) = observation["h1"].pods
    assert (pod.key, pod.spec_hash, pod.phase) == (
        ("shop", "web-1"),
        "h123",
        hoststate.PodPhase.RUNNING,
    )
    assert pod.labels[hoststate.LABEL_REVISION] == "abc"
    assert [c.name for c in pod.containers] == ["web", "side"]

    before = executor.stats.mutations
    executor.observe(TARGETS)
    assert executor.apply(hoststate.Plan(), TARGETS) == []
    assert executor.stats.mutations == before

    delete = hoststate.Action(Kind.DELETE, "h1", "shop", "web-1", observed=pod)
    (result,) = executor.apply(hoststate.Plan((delete,)), TARGETS)
    assert result.outcome is Outcome.DONE
    assert executor.observe(TARGETS)["h1"].pods == ()


def test_replace_changes_spec_hash() -> None:
    executor = fake.FakeExecutor(["h1"])
    executor.apply(hoststate.Plan((_create(make_run()),)), TARGETS)
    (old,) = executor.observe(TARGETS)["h1"].pods
    new = make_run(spec_hash="h456")
    action = hoststate.Action(Kind.REPLACE, "h1", "shop", "web-1", run=new, observed=old)
    (result,) = executor.apply(hoststate.Plan((action,)), TARGETS)
    assert result.outcome is Outcome.DONE and "replaced" in result.message
    (pod,) = executor.observe(TARGETS)["h1"].pods
    assert pod.spec_hash == "h456"


def test_unreachable_host_is_reported_and_skipped_others_converge() -> None:
    executor = fake.FakeExecutor(["h1", "h2"])
    executor.kill("h1")
    observation = executor.observe(TARGETS)
    assert not observation["h1"].reachable and "h1" in observation["h1"].error
    assert observation["h2"].reachable
    plan = hoststate.Plan((_create(make_run()), _create(make_run(host="h2"))))
    first, second = executor.apply(plan, TARGETS)
    assert first.outcome is Outcome.SKIPPED and "unreachable" in first.message
    assert second.outcome is Outcome.DONE
    executor.revive("h1")
    assert executor.observe(TARGETS)["h1"].reachable


def test_bad_image_fails_that_pod_only() -> None:
    executor = fake.FakeExecutor(["h1"])
    executor.fail_image("bad:1")
    bad = make_run(name="bad", containers=(hoststate.ContainerRun("c", "bad:1"),))
    plan = hoststate.Plan((_create(bad), _create(make_run())))
    failed, done = executor.apply(plan, TARGETS)
    assert failed.outcome is Outcome.FAILED and "'bad:1'" in failed.message
    assert done.outcome is Outcome.DONE
    assert [p.name for p in executor.observe(TARGETS)["h1"].pods] == ["web-1"]


def test_unknown_host_and_injected_failure_and_container_state() -> None:
    executor = fake.FakeExecutor(["h1"])
    (result,) = executor.apply(hoststate.Plan((_create(make_run(host="h9")),)), TARGETS)
    assert result.outcome is Outcome.FAILED and "h9" in result.message
    executor.fail_next("h1", "shop", "web-1", "disk full")
    (result,) = executor.apply(hoststate.Plan((_create(make_run()),)), TARGETS)
    assert result.outcome is Outcome.FAILED and "disk full" in result.message
    executor.apply(hoststate.Plan((_create(make_run()),)), TARGETS)
    executor.set_container_state("h1", "shop", "web-1", "exited", 1)
    (pod,) = executor.observe(TARGETS)["h1"].pods
    assert pod.phase is hoststate.PodPhase.FAILED


def test_waves_run_in_order_results_in_plan_order() -> None:
    executor = fake.FakeExecutor(["h1"])
    executor.apply(hoststate.Plan((_create(make_run(name="old")),)), TARGETS)
    (old,) = executor.observe(TARGETS)["h1"].pods
    plan = hoststate.Plan(
        (
            dataclasses.replace(_create(make_run(name="new")), wave=1),
            hoststate.Action(Kind.DELETE, "h1", "shop", "old", observed=old, wave=0),
        )
    )
    results = executor.apply(plan, TARGETS)
    assert [r.action.kind for r in results] == [Kind.CREATE, Kind.DELETE]
    assert executor.calls[-2:] == ["delete h1 shop/old", "create h1 shop/new"]
