"""The init-container half of the pod lifecycle controller (`initsteps`): the view the restart
registry judges (a failed init container retried with back-off unless Never), the actions that
carry an initialization on, and the STATUS words of `get pods`."""

from __future__ import annotations

import dataclasses

from reconciler.cli import describe
from reconciler.controllers import backoff, initsteps, lifecycle
from reconciler.executor import podmanspec
from reconciler.model import base, hoststate


def _c(name: str, state: str, code: int = 0) -> hoststate.ObservedContainer:
    return hoststate.ObservedContainer(name, f"id-{name}", "img", state, code)


def _pod(
    inits: tuple[hoststate.ObservedContainer, ...],
    apps: tuple[hoststate.ObservedContainer, ...],
    policy: str = "Always",
) -> hoststate.ObservedPod:
    labels = {hoststate.MANAGED_BY: hoststate.MANAGER, podmanspec.LABEL_RESTART_POLICY: policy}
    return hoststate.ObservedPod(
        "ns", "web", "h1", "p1", "x", labels=base.FrozenMap(labels),
        containers=apps, init_containers=inits,
    )  # fmt: skip


def _seen(*pods: hoststate.ObservedPod) -> dict[str, hoststate.HostObservation]:
    return {"h1": hoststate.HostObservation("h1", True, pods)}


def test_status_words() -> None:
    created = (_c("app", "created"),)
    assert initsteps.status(_pod((_c("a", "running"), _c("b", "created")), created)) == "Init:0/2"
    assert initsteps.status(_pod((_c("a", "exited"), _c("b", "running")), created)) == "Init:1/2"
    failed = _pod((_c("a", "exited", 1), _c("b", "created")), created)
    assert initsteps.status(failed) == "Init:Error"
    backing = backoff.Record("h1", "ns", "web", "a", "id-a", due_at=10.0, delay=10.0,
                               confirmed=True)  # fmt: skip
    assert initsteps.status(failed, {backing.key: backing}) == "Init:CrashLoopBackOff"
    assert initsteps.status(_pod((_c("a", "exited"),), (_c("app", "running"),))) == ""
    assert initsteps.status(_pod((), (_c("app", "running"),))) == ""


def test_a_failed_init_container_is_retried_with_back_off_unless_never() -> None:
    pod = _pod((_c("a", "exited", 1), _c("b", "created")), (_c("app", "created"),))
    now = [100.0]
    restarts = lifecycle.Restarts(clock=lambda: now[0])
    first = restarts.due(initsteps.view(_seen(pod)), 100.0)
    (action,) = first.restarts
    assert action.container == "a" and action.kind is hoststate.ActionKind.RESTART
    restarts.restarted(hoststate.ActionResult(action, hoststate.Outcome.DONE))
    now[0] = 130.0
    later = restarts.due(initsteps.view(_seen(pod)), 130.0)  # it failed again: back-off
    assert later.restarts == () and later.waiting[0].container == "a"
    assert "back-off 10s" in later.waiting[0].message
    restarts.close()
    never = dataclasses.replace(pod, labels=base.FrozenMap(
        {**pod.labels, podmanspec.LABEL_RESTART_POLICY: "Never"}))  # fmt: skip
    assert lifecycle.Restarts().due(initsteps.view(_seen(never)), 100.0).restarts == ()


def test_the_view_hides_the_apps_of_initializing_pods_only() -> None:
    initializing = _pod((_c("a", "running"),), (_c("app", "created"),))
    done = dataclasses.replace(
        _pod((_c("a", "exited"),), (_c("app", "exited", 1),)), name="other"
    )
    (seen,) = initsteps.view(_seen(initializing, done)).values()
    assert [c.name for c in seen.pods[0].containers] == ["a"]
    assert seen.pods[0].labels[podmanspec.LABEL_RESTART_POLICY] == "OnFailure"
    assert seen.pods[1] is done


def test_continuations_start_the_next_step_when_nothing_else_will() -> None:
    next_init = _pod((_c("a", "exited"), _c("b", "created")), (_c("app", "created"),))
    apps = _pod((_c("a", "exited"), _c("b", "exited")), (_c("app", "created"),))
    fresh = _pod((_c("a", "created"),), (_c("app", "created"),))  # its create action runs it
    running = _pod((_c("a", "running"),), (_c("app", "created"),))
    finished = _pod((_c("a", "exited"),), (_c("app", "running"),))
    found = {}
    for pod in (next_init, apps, fresh, running, finished):
        actions = initsteps.continuations(_seen(pod))
        found[id(pod)] = [a.container for a in actions]
    assert found[id(next_init)] == ["b"] and found[id(apps)] == ["app"]
    assert found[id(fresh)] == found[id(running)] == found[id(finished)] == []
    unreachable = {"h1": hoststate.HostObservation("h1", False)}
    assert initsteps.continuations(unreachable) == ()


def test_a_pod_whose_create_was_interrupted_is_started() -> None:
    """No init containers, a container created and never started (the daemon was killed
    between create and start): started, one a pass; one that ran is the restart registry's."""
    interrupted = _pod((), (_c("app", "created"), _c("side", "created")))
    half = _pod((), (_c("app", "running"), _c("side", "created")))
    ran = _pod((), (_c("app", "exited", 1),))
    (action,) = initsteps.continuations(_seen(interrupted))
    assert action.kind is hoststate.ActionKind.RESTART and action.container == "app"
    assert action.reason.startswith(initsteps.NEVER_STARTED)
    assert [a.container for a in initsteps.continuations(_seen(half))] == ["side"]
    assert initsteps.continuations(_seen(ran)) == ()


def test_describe_shows_the_init_containers_before_the_containers() -> None:
    pod = _pod((_c("a", "exited"), _c("b", "exited", 3)), (_c("app", "created"),))
    text = describe.describe_text(pod, "198.18.0.11")
    section = text[text.index("Init Containers:"):text.index("\nContainers:")]
    assert "Terminated (Completed, exit code 0)" in section
    assert "Terminated (Error, exit code 3)" in section
    assert describe.describe_text(_pod((), (_c("app", "running"),)), "x").count("Init") == 0
