"""Init containers and lifecycle hooks in the executor (`initrun`, `hookrun`, `hooklabels`),
against a fake Podman API that plays the containers' exits: order, failure, carrying on,
postStart and preStop, and the labels that carry the hooks to a later delete."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from reconciler.executor import (
    errors,
    hooklabels,
    hookrun,
    hostsession,
    initrun,
    observed,
    podmanspec,
)
from reconciler.model import base, hooks, hoststate


@dataclass
class FakeContainer:
    name: str
    labels: dict[str, str]
    exits: list[int] = field(default_factory=list)  # exit code of each start; empty: keeps running
    state: str = "created"
    exit_code: int = 0


class FakeAPI:
    """What `initrun` and `hookrun` call; every call is recorded in `calls`."""

    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.calls: list[str] = []
        self.exec_exit = 0

    def add(self, spec: dict[str, Any], exits: list[int] | None = None) -> None:
        self.containers[spec["name"]] = FakeContainer(spec["name"], spec["labels"], exits or [])

    def start_container(self, cid: str) -> None:
        self.calls.append(f"start {cid}")
        c = self.containers[cid]
        if c.exits:
            c.state, c.exit_code = "exited", c.exits.pop(0)
        else:
            c.state = "running"

    def start_pod(self, pod: str) -> None:
        self.calls.append(f"start pod {pod}")
        for c in self.containers.values():
            c.state = "running"

    def stop_container(self, cid: str, timeout: float) -> None:
        self.calls.append(f"stop {cid} {int(timeout)}")
        c = self.containers[cid]
        c.state, c.exit_code = "exited", 137

    def inspect_container(self, cid: str) -> dict[str, Any] | None:
        c = self.containers.get(cid)
        if c is None:
            return None
        return {"State": {"Status": c.state, "ExitCode": c.exit_code}}

    def list_containers(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        self.calls.append("list")
        return [
            {"Id": c.name, "Labels": c.labels, "State": c.state, "ExitCode": c.exit_code,
             "Pod": "p1"}
            for c in self.containers.values()
        ]  # fmt: skip

    def exec_create(self, cid: str, command: list[str]) -> str:
        self.calls.append(f"exec {cid} {' '.join(command)}")
        if self.containers[cid].state != "running":
            raise errors.OperationFailed("create exec", "not running", 409)
        return "e1"

    def exec_run(self, exec_id: str, timeout: float) -> bool:
        return True

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return {"Running": False, "ExitCode": self.exec_exit}


class FakeSession:
    def __init__(self, api: FakeAPI) -> None:
        self.api = api
        self.target = hoststate.HostTarget("h1", "198.18.0.11")

    def map(self, fn: Any, items: Any) -> list[Any]:
        return [fn(item) for item in items]


def _session(api: FakeAPI) -> hostsession.HostSession:
    return cast(hostsession.HostSession, FakeSession(api))


def _run(*, inits: int = 2, post_start: hooks.Handler | None = None,
         pre_stop: hooks.Handler | None = None) -> hoststate.PodRun:  # fmt: skip
    lifecycle = hooks.Lifecycle(post_start, pre_stop) if post_start or pre_stop else None
    return hoststate.PodRun(
        namespace="ns",
        name="web",
        host="h1",
        spec_hash="x",
        labels=base.FrozenMap({}),
        containers=(hoststate.ContainerRun("app", "img", lifecycle=lifecycle),),
        init_containers=tuple(hoststate.ContainerRun(f"init{i}", "img") for i in range(inits)),
        termination_grace_seconds=7,
        published_ports=(hoststate.PortMapping(40123, 8080),),
    )


def _created(api: FakeAPI, run: hoststate.PodRun, init_exits: list[list[int]]) -> None:
    for spec, exits in zip(initrun.create_specs(run, "/state", 10), init_exits, strict=True):
        api.add(spec, exits)
    for container in run.containers:
        api.add(podmanspec.container_spec(run, container, "/state", 10))


def test_init_containers_run_one_at_a_time_in_order_then_the_apps() -> None:
    run = _run()
    api = FakeAPI()
    _created(api, run, [[0], [0]])
    report = initrun.start_pod(_session(api), run)
    assert api.calls == ["start ns_web_init0", "start ns_web_init1", "start ns_web_app"]
    assert "2 init container(s) completed, 1 container(s) started" in report


def test_a_failed_init_container_stops_the_sequence_and_no_app_starts() -> None:
    run = _run()
    api = FakeAPI()
    _created(api, run, [[3], [0]])
    report = initrun.start_pod(_session(api), run)
    assert api.calls == ["start ns_web_init0"]
    assert "init container init0 (1/2) failed with exit code 3" in report
    assert api.containers["ns_web_app"].state == "created"


def test_advance_retries_the_failed_one_and_carries_on_from_the_listing() -> None:
    run = _run()
    api = FakeAPI()
    _created(api, run, [[3, 0], [0]])
    initrun.start_pod(_session(api), run)
    pod = hoststate.ObservedPod("ns", "web", "h1", "p1", "x")
    report = initrun.advance(_session(api), pod)
    assert api.calls[1:] == ["list", "start ns_web_init0", "start ns_web_init1", "start ns_web_app"]
    assert "container(s) started" in report


def test_advance_of_a_pod_without_init_containers_is_refused() -> None:
    api = FakeAPI()
    api.add(podmanspec.container_spec(_run(inits=0), _run(inits=0).containers[0], "/s", 10))
    with pytest.raises(errors.PodmanRequestFailed):
        initrun.advance(_session(api), hoststate.ObservedPod("ns", "web", "h1", "p1", "x"))


def test_the_init_labels_order_the_listing() -> None:
    run = _run(inits=3)
    api = FakeAPI()
    specs = initrun.create_specs(run, "/state", 10)
    for spec in reversed(specs):  # Podman lists in any order
        api.add(spec)
    inits, apps = initrun.steps(_session(api), "p1")
    assert [s.name for s in inits] == ["init0", "init1", "init2"] and apps == []
    assert [s["labels"][hooklabels.LABEL_INIT] for s in specs] == ["0", "1", "2"]


def test_pending_and_initializing_from_an_observation() -> None:
    def c(name: str, state: str, code: int = 0) -> hoststate.ObservedContainer:
        return hoststate.ObservedContainer(name, name, "img", state, code)

    base_pod = hoststate.ObservedPod("ns", "web", "h1", "p1", "x")
    waiting = dataclasses_replace(base_pod, (c("a", "exited", 0), c("b", "exited", 1)),
                                  (c("app", "created"),))  # fmt: skip
    assert initrun.initializing(waiting) and initrun.pending(waiting)
    done = dataclasses_replace(base_pod, (c("a", "exited", 0),), (c("app", "created"),))
    assert not initrun.initializing(done) and initrun.pending(done)
    running = dataclasses_replace(base_pod, (c("a", "exited", 0),), (c("app", "running"),))
    assert not initrun.pending(running)
    assert not initrun.pending(dataclasses_replace(base_pod, (), (c("app", "created"),)))


def dataclasses_replace(
    pod: hoststate.ObservedPod,
    inits: tuple[hoststate.ObservedContainer, ...],
    apps: tuple[hoststate.ObservedContainer, ...],
) -> hoststate.ObservedPod:
    return dataclasses.replace(pod, init_containers=inits, containers=apps)


def test_post_start_runs_after_the_start_and_a_failure_kills_the_container() -> None:
    run = _run(inits=0, post_start=hooks.Handler(hooks.HookAction.EXEC, ("touch", "/ok")))
    api = FakeAPI()
    _created(api, run, [])
    assert initrun.start_pod(_session(api), run) == ""
    assert api.calls == ["start pod ns_web", "exec ns_web_app touch /ok"]
    api.calls.clear()
    api.exec_exit = 1
    report = initrun.start_pod(_session(api), run)
    assert hooks.FAILED_POST_START in report and "exit code 1" in report
    assert api.calls[-1] == f"stop ns_web_app {hookrun.MIN_STOP_GRACE}"


def test_pre_stop_runs_in_running_containers_then_stops_them_within_the_grace() -> None:
    run = _run(inits=1, pre_stop=hooks.Handler(hooks.HookAction.EXEC, ("sh", "-c", "bye")))
    api = FakeAPI()
    _created(api, run, [[0]])
    initrun.start_pod(_session(api), run)
    api.calls.clear()
    assert hookrun.pre_stop(_session(api), "ns_web", "p1") == []
    assert api.calls[1] == "exec ns_web_app sh -c bye"  # the exited init container has none
    stop = api.calls[2].split()
    assert stop[:2] == ["stop", "ns_web_app"] and 2 <= int(stop[2]) <= 7


def test_a_failed_pre_stop_is_reported_and_the_stop_goes_on() -> None:
    run = _run(inits=0, pre_stop=hooks.Handler(hooks.HookAction.EXEC, ("false",)))
    api = FakeAPI()
    _created(api, run, [])
    api.start_pod("ns_web")
    api.exec_exit = 2
    (message,) = hookrun.pre_stop(_session(api), "ns_web", "p1")
    assert hooks.FAILED_PRE_STOP in message and "exit code 2" in message
    assert api.containers["ns_web_app"].state == "exited"


def test_hook_labels_carry_the_published_port_and_the_grace_period() -> None:
    http = hooks.Handler(hooks.HookAction.HTTP_GET, port=8080, path="/bye",
                         http_headers=(("X-A", "1"),))  # fmt: skip
    run = _run(inits=0, post_start=hooks.Handler(hooks.HookAction.SLEEP, seconds=2), pre_stop=http)
    label = podmanspec.container_labels(run, run.containers[0])[hooklabels.LABEL_HOOKS]
    data = json.loads(label)
    assert data["grace"] == 7 and data["preStop"]["host_port"] == 40123
    decoded = hooklabels.decode(label, "app")
    assert decoded.pre_stop == hooklabels.Hook(http, 40123)
    assert decoded.post_start is not None and decoded.post_start.handler.seconds == 2
    assert decoded == hooklabels.of_run(run, run.containers[0])
    assert hooklabels.decode("{not json", "app") == hooklabels.ContainerHooks()
    assert hooklabels.LABEL_HOOKS not in podmanspec.container_labels(_run(), _run().containers[0])


def test_an_unpublished_http_hook_fails_with_the_reason() -> None:
    hook = hooklabels.Hook(hooks.Handler(hooks.HookAction.HTTP_GET, port=9090))
    result = hookrun.run_hook(_session(FakeAPI()), "c", hook, 1)
    assert not result.ok and "not published" in result.message


def test_observed_keeps_init_containers_apart_and_in_order() -> None:
    run = _run(inits=2)
    api = FakeAPI()
    _created(api, run, [[0], [5]])
    initrun.start_pod(_session(api), run)
    entries = [
        {**e, "Names": [e["Id"]], "Image": "img"} for e in reversed(api.list_containers({}))
    ]
    pod_entry = {"Id": "p1", "Labels": podmanspec.pod_labels(run)}
    (pod,) = observed.pods("h1", [pod_entry], entries, {})
    assert [c.name for c in pod.init_containers] == ["init0", "init1"]
    assert [c.name for c in pod.containers] == ["app"]
    assert pod.spec_hash == "x"  # the init containers are not missing app containers
    assert pod.phase is hoststate.PodPhase.PENDING
    never = {**pod_entry, "Labels": {**pod_entry["Labels"],
                                     podmanspec.LABEL_RESTART_POLICY: "Never"}}  # fmt: skip
    (failed,) = observed.pods("h1", [never], entries, {})
    assert failed.phase is hoststate.PodPhase.FAILED


def test_pre_stop_runs_before_a_liveness_restart_of_a_running_container_only() -> None:
    found = hooklabels.ContainerHooks(
        pre_stop=hooklabels.Hook(hooks.Handler(hooks.HookAction.EXEC, ("sh", "-c", "bye"))),
        grace_seconds=3,
    )
    api = FakeAPI()
    run = _run(inits=0)
    _created(api, run, [])
    api.start_pod("ns_web")
    inspect = {"Id": "ns_web_app", "State": {"Status": "running"}}
    assert hookrun.before_restart(_session(api), "app", inspect, found) == []
    assert api.calls[-1] == "exec ns_web_app sh -c bye"
    api.exec_exit = 1
    (message,) = hookrun.before_restart(_session(api), "app", inspect, found)
    assert hooks.FAILED_PRE_STOP in message
    api.calls.clear()
    exited = {"Id": "ns_web_app", "State": {"Status": "exited"}}
    assert hookrun.before_restart(_session(api), "app", exited, found) == [] and not api.calls
