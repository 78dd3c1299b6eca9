"""The pod lifecycle's restarts: Kubernetes' restartPolicy and crash back-off, driven through the
FakeExecutor (exit ▶ callback ▶ due ▶ RESTART applied ▶ restarted) on a fake clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.controllers import backoff, lifecycle
from reconciler.executor import fake, podmanspec
from reconciler.model import base, hoststate
from reconciler.state import store
from tests.executor.test_podmanspec import make_run

TARGETS = [hoststate.HostTarget("h1", "10.0.0.1")]
Kind = hoststate.ActionKind
Outcome = hoststate.Outcome


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    """A fake host with one pod shop/web-1 (containers web and side), watched by a registry."""

    def __init__(self, policy: str = "Always", saved: backoff.RecordStore | None = None) -> None:
        self.clock = Clock()
        self.executor = fake.FakeExecutor(["h1"])
        run = make_run(restart_policy=policy)
        create = hoststate.Action(Kind.CREATE, "h1", run.namespace, run.name, run=run)
        (done,) = self.executor.apply(hoststate.Plan((create,)), TARGETS)
        assert done.outcome is Outcome.DONE, done.message
        self.restarts = lifecycle.Restarts(self.clock, saved)
        self.woken: list[float] = []
        self.restarts.on_due(lambda: self.woken.append(self.clock.now))
        self.executor.watch_exits(TARGETS, self.restarts.on_exit)

    def due(self) -> lifecycle.Verdicts:
        return self.restarts.due(self.executor.observe(TARGETS), self.clock.now)

    def run(self, verdicts: lifecycle.Verdicts) -> list[hoststate.ActionResult]:
        results = self.executor.apply(hoststate.Plan(verdicts.restarts), TARGETS)
        for result in results:
            self.restarts.restarted(result)
        return results

    def state(self, container: str = "web") -> str:
        (pod,) = self.executor.observe(TARGETS)["h1"].pods
        return next(c.state for c in pod.containers if c.name == container)

    def crash(self, code: int = 1) -> None:
        self.executor.exit_container("h1", "shop", "web-1", "web", code)


@pytest.fixture
def world() -> Iterator[World]:
    made = World()
    yield made
    made.restarts.close()


# ----- policy ---------------------------------------------------------------------------------


def test_backoff_is_immediate_then_10s_doubling_capped_at_300s() -> None:
    delays = [backoff.delay(n) for n in range(9)]
    assert delays == [0, 10, 20, 40, 80, 160, 300, 300, 300]
    assert backoff.delay(10_000) == 300


@pytest.mark.parametrize(
    ("policy", "code", "wanted"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 137, True),
        ("Never", 1, False),
        ("Never", 0, False),
    ],
)
def test_restart_policy(policy: str, code: int, wanted: bool) -> None:
    assert backoff.wants_restart(policy, code) is wanted


def test_delays_worded_as_kubernetes_words_them() -> None:
    assert [backoff.format_delay(s) for s in (0, 10, 40, 300)] == ["0s", "10s", "40s", "5m0s"]


# ----- the crash loop -------------------------------------------------------------------------


def test_first_restart_at_once_then_backoff_doubles(world: World) -> None:
    world.crash(1)
    assert world.woken == [world.clock.now]  # the exit woke the daemon: due now
    verdicts = world.due()
    (action,) = verdicts.restarts
    assert (action.kind, action.host, action.namespace, action.name, action.container) == (
        Kind.RESTART, "h1", "shop", "web-1", "web",
    )  # fmt: skip
    assert action.reason == "container web exited with code 1: restart 1 (back-off 0s)"
    assert verdicts.waiting == () and verdicts.next_due is None
    (result,) = world.run(verdicts)
    assert result.outcome is Outcome.DONE, result.message
    assert world.state() == "running"
    assert world.restarts.restart_count("shop", "web-1", "web") == 1
    assert world.restarts.waiting("shop", "web-1") == ""

    world.clock.now += 5
    world.crash(2)
    verdicts = world.due()
    assert verdicts.restarts == ()
    (waiting,) = verdicts.waiting
    assert (waiting.key, waiting.container) == (("shop", "web-1"), "web")
    assert waiting.message == "back-off 10s restarting failed container web"
    assert verdicts.next_due == 10
    assert world.restarts.waiting("shop", "web-1") == backoff.CRASH_LOOP

    world.clock.now += 9
    assert world.due().restarts == ()
    world.clock.now += 1
    (action,) = world.due().restarts
    assert action.reason == "container web exited with code 2: restart 2 (back-off 10s)"
    world.run(lifecycle.Verdicts((action,)))
    assert world.restarts.waiting("shop", "web-1") == ""

    world.crash(1)
    verdicts = world.due()
    assert verdicts.next_due == 20 and verdicts.waiting[0].message.startswith("back-off 20s ")
    world.clock.now += 20
    (action,) = world.due().restarts
    assert action.reason.endswith("restart 3 (back-off 20s)")


def test_a_handed_out_restart_is_not_handed_out_again(world: World) -> None:
    world.crash()
    assert len(world.due().restarts) == 1
    assert world.due().restarts == ()  # still under way
    world.clock.now += lifecycle.IN_FLIGHT + 1  # its result never came: hand it out again
    assert len(world.due().restarts) == 1


def test_backoff_resets_after_ten_minutes_running(world: World) -> None:
    for _ in range(3):
        world.crash()
        world.clock.now += 60
        world.run(world.due())
    assert world.restarts.restart_count("shop", "web-1", "web") == 3
    world.clock.now += backoff.RESET_AFTER
    world.crash()
    (action,) = world.due().restarts
    assert action.reason.endswith("restart 4 (back-off 0s)")


def test_a_failed_restart_counts_and_backs_off(world: World) -> None:
    world.crash()
    verdicts = world.due()
    world.executor.fail_next("h1", "shop", "web-1", "podman said no")
    (result,) = world.run(verdicts)
    assert result.outcome is Outcome.FAILED
    assert world.restarts.restart_count("shop", "web-1", "web") == 1
    verdicts = world.due()
    assert verdicts.restarts == () and verdicts.next_due == 10


def test_a_skipped_restart_is_tried_again_when_the_host_is_back(world: World) -> None:
    world.crash()
    verdicts = world.due()
    world.executor.kill("h1")
    (result,) = world.run(verdicts)
    assert result.outcome is Outcome.SKIPPED
    assert world.due().restarts == ()  # unreachable: nothing to judge, nothing forgotten
    world.executor.revive("h1")
    assert len(world.due().restarts) == 1
    assert world.restarts.restart_count("shop", "web-1", "web") == 0


@pytest.mark.parametrize(("policy", "code"), [("OnFailure", 0), ("Never", 1), ("Never", 0)])
def test_policy_says_leave_it_stopped(policy: str, code: int) -> None:
    world = World(policy)
    world.crash(code)
    verdicts = world.due()
    assert verdicts == lifecycle.Verdicts()
    assert world.restarts.waiting("shop", "web-1") == ""
    world.clock.now += 1000
    assert world.due() == lifecycle.Verdicts()
    assert world.state() == "exited"


def test_on_failure_restarts_a_failure() -> None:
    world = World("OnFailure")
    world.crash(3)
    assert len(world.due().restarts) == 1


def test_an_exit_missed_by_the_stream_is_found_by_observation(world: World) -> None:
    world.executor.watch_exits([], world.restarts.on_exit)  # no stream
    world.crash()
    assert world.woken == []
    (action,) = world.due().restarts
    assert action.reason == "container web exited with code 1: restart 1 (back-off 0s)"


def test_an_observation_from_before_the_restart_restarts_nothing(world: World) -> None:
    world.crash()
    stale = world.executor.observe(TARGETS)
    world.run(world.due())
    assert world.restarts.due(stale, world.clock.now).restarts == ()
    world.clock.now += lifecycle.STALE_GRACE + 1  # exited long after the restart: a new exit
    verdicts = world.restarts.due(stale, world.clock.now)
    assert verdicts.restarts == () and verdicts.next_due == 10


def test_pods_without_the_label_restart_always_and_unmanaged_pods_never(world: World) -> None:
    world.executor.watch_exits([], world.restarts.on_exit)
    world.crash(0)
    observation = world.executor.observe(TARGETS)["h1"]
    (pod,) = observation.pods
    unlabelled = {k: v for k, v in pod.labels.items() if k != podmanspec.LABEL_RESTART_POLICY}
    old = dataclasses.replace(pod, labels=base.FrozenMap(unlabelled))
    assert backoff.policy_of(old) is backoff.RestartPolicy.ALWAYS
    seen = {"h1": dataclasses.replace(observation, pods=(old,))}
    assert len(world.restarts.due(seen, world.clock.now).restarts) == 1

    foreign = {k: v for k, v in unlabelled.items() if k != hoststate.MANAGED_BY}
    other = dataclasses.replace(pod, name="web-2", labels=base.FrozenMap(foreign))
    seen = {"h1": dataclasses.replace(observation, pods=(other,))}
    assert world.restarts.due(seen, world.clock.now) == lifecycle.Verdicts()


def test_state_of_gone_or_replaced_containers_is_forgotten(world: World) -> None:
    world.crash()
    world.run(world.due())
    assert world.restarts.restart_count("shop", "web-1", "web") == 1
    (pod,) = world.executor.observe(TARGETS)["h1"].pods
    replaced = dataclasses.replace(
        pod, containers=tuple(dataclasses.replace(c, podman_id="new") for c in pod.containers)
    )
    seen = {"h1": hoststate.HostObservation("h1", True, (replaced,))}
    world.restarts.due(seen, world.clock.now)
    assert world.restarts.restart_count("shop", "web-1", "web") == 0

    world.crash()
    world.run(world.due())
    delete = hoststate.Action(Kind.DELETE, "h1", "shop", "web-1", observed=pod)
    world.executor.apply(hoststate.Plan((delete,)), TARGETS)  # its containers die: 143
    assert world.due() == lifecycle.Verdicts()
    assert world.restarts.restart_count("shop", "web-1", "web") == 0


# ----- liveness -------------------------------------------------------------------------------


def _liveness(world: World, message: str = "HTTP probe failed with statuscode: 500") -> None:
    (pod,) = world.executor.observe(TARGETS)["h1"].pods
    web = next(c for c in pod.containers if c.name == "web")
    world.restarts.liveness_failed("h1", "shop", "web-1", "web", web.podman_id, message)


def test_a_failed_liveness_probe_restarts_the_running_container(world: World) -> None:
    _liveness(world)
    assert world.woken == [world.clock.now]
    (action,) = world.due().restarts
    assert action.reason == (
        "container web failed its liveness probe (HTTP probe failed with statuscode: 500): "
        "restart 1 (back-off 0s)"
    )
    (result,) = world.run(lifecycle.Verdicts((action,)))
    assert result.outcome is Outcome.DONE
    died = [e for _, e in world.executor.event_log["h1"] if e.action == "died"]
    assert [(e.name, e.exit_code) for e in died] == [("web", 143)]
    assert world.due() == lifecycle.Verdicts()  # its own stop is not a crash
    assert world.state() == "running"

    world.clock.now += 1
    _liveness(world)
    verdicts = world.due()
    assert verdicts.restarts == () and verdicts.next_due == 10


def test_liveness_under_never_restarts_nothing() -> None:
    world = World("Never")
    _liveness(world)
    assert world.due() == lifecycle.Verdicts()


# ----- persistence ----------------------------------------------------------------------------


class MemoryStore:
    def __init__(self) -> None:
        self.rows: dict[backoff.Key, dict[str, Any]] = {}

    def restart_records(self) -> list[dict[str, Any]]:
        return list(self.rows.values())

    def save_restart_records(self, records: Any, forget: Any) -> None:
        for key in forget:
            self.rows.pop(tuple(key), None)
        for r in records:
            self.rows[(r["namespace"], r["pod"], r["container"])] = dict(r)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_counts_and_backoff_survive_a_daemon_restart(kind: str, tmp_path: Path) -> None:
    saved: Any = MemoryStore() if kind == "memory" else store.Store(tmp_path / "r.db")
    world = World(saved=saved)
    world.crash()
    world.run(world.due())
    world.crash()
    assert world.due().next_due == 10
    world.restarts.close()

    again = lifecycle.Restarts(world.clock, saved)
    assert again.restart_count("shop", "web-1", "web") == 1
    assert again.waiting("shop", "web-1") == backoff.CRASH_LOOP
    verdicts = again.due(world.executor.observe(TARGETS), world.clock.now)
    assert verdicts.restarts == () and verdicts.next_due == 10
    world.clock.now += 10
    (action,) = again.due(world.executor.observe(TARGETS), world.clock.now).restarts
    assert action.reason.endswith("restart 2 (back-off 10s)")
    again.close()
    if kind == "sqlite":
        saved.close()
