"""The endpoints controller's rules with a recording executor and a fake clock: which pods are
drained before a plan stops them, how long it waits for their connections, what the load
balancers serve after the plan, and the conditions it reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from reconciler.controllers import balancers
from reconciler.model import base, hoststate, loadbalancer, objects, workloads

NS = "shop"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Executor:
    """Records every lb_apply; lb_status reports `sessions` for the named server until
    `clears_after` status reads have happened."""

    def __init__(self, sessions: int = 0, clears_after: int = 0) -> None:
        self.applied: list[dict[str, loadbalancer.Config]] = []
        self.reads = 0
        self.sessions = sessions
        self.clears_after = clears_after

    def lb_apply(
        self, targets: Sequence[hoststate.HostTarget], configs: Mapping[str, loadbalancer.Config]
    ) -> dict[str, loadbalancer.Status]:
        self.applied.append(dict(configs))
        return {t.name: loadbalancer.Status(t.name, running=True, pid=7) for t in targets}

    def lb_status(
        self, targets: Sequence[hoststate.HostTarget]
    ) -> dict[str, loadbalancer.Status]:
        self.reads += 1
        busy = self.sessions if self.reads <= self.clears_after else 0
        config = self.applied[-1]
        out = {}
        for t in targets:
            servers = tuple(
                loadbalancer.ServerStatus(listener.name, s.name, s.address, s.port,
                                          str(s.state), "UP", busy)
                for listener in config[t.name].listeners
                for s in listener.servers
                if s.state is loadbalancer.ServerState.DRAIN
            )  # fmt: skip
            out[t.name] = loadbalancer.Status(t.name, running=True, servers=servers)
        return out


def meta(name: str, namespace: str = NS, **labels: str) -> base.ObjectMeta:
    return base.ObjectMeta(name=name, namespace=namespace, labels=base.FrozenMap(labels))


def state(grace: int = 5) -> objects.DesiredState:
    container = workloads.Container(
        name="web", image="busybox",
        ports=(workloads.ContainerPort(container_port=8080, host_port=8080, name="http"),),
    )  # fmt: skip
    template = workloads.PodTemplate(
        base.FrozenMap({"app": "web"}), base.FrozenMap(),
        workloads.PodSpec(containers=(container,), termination_grace_period_seconds=grace),
    )  # fmt: skip
    app = base.FrozenMap({"app": "web"})
    deployment = workloads.Deployment(meta("web"), replicas=2, selector=app, template=template)
    port = objects.ServicePort(port=8000, target_port="http", name="http")
    service = objects.Service(meta("web"), app, (port,))
    hosts = [
        objects.Host(meta(f"h{i}", ""), address=f"10.0.0.{i}", ssh_user="u") for i in (1, 2)
    ]
    return objects.DesiredState.of([objects.Namespace(meta(NS, "")), deployment, service, *hosts])


def pod(name: str, host: str, owner: str = "Deployment/web") -> hoststate.ObservedPod:
    labels = {"app": "web", hoststate.LABEL_OWNER: owner, hoststate.LABEL_POD_PORTS: "8080=8080",
              hoststate.LABEL_PORT_NAMES: "http=8080"}
    return hoststate.ObservedPod(
        NS, name, host, f"id-{name}", "hash", owner=owner,
        labels=base.FrozenMap(labels), phase=hoststate.PodPhase.RUNNING, ready=True,
        containers=(hoststate.ObservedContainer("web", f"c-{name}", "busybox", "running"),),
    )  # fmt: skip


def observations() -> dict[str, hoststate.HostObservation]:
    return {
        "h1": hoststate.HostObservation("h1", True, (pod("web-0", "h1"),)),
        "h2": hoststate.HostObservation("h2", True, (pod("web-1", "h2"),)),
    }


TARGETS = [hoststate.HostTarget("h1", "10.0.0.1", 22, "u"),
           hoststate.HostTarget("h2", "10.0.0.2", 22, "u")]  # fmt: skip


def delete(name: str, host: str) -> hoststate.Action:
    return hoststate.Action(hoststate.ActionKind.DELETE, host, NS, name,
                            observed=pod(name, host))  # fmt: skip


def servers(config: loadbalancer.Config) -> dict[str, str]:
    return {s.pod or s.name: str(s.state) for lst in config.listeners for s in lst.servers}


def controller(clock: Clock) -> balancers.Balancers:
    return balancers.Balancers(poll=0.1, sleep=clock.sleep, clock=clock)


def test_a_deleted_pod_is_drained_on_every_host_before_the_plan_runs() -> None:
    clock, executor = Clock(), Executor()
    ctl = controller(clock)
    plan = hoststate.Plan((delete("web-1", "h2"),))
    drained = ctl.before(state(), observations(), plan, TARGETS, executor)  # type: ignore[arg-type]
    assert drained == ((NS, "web-1"),)
    (configs,) = executor.applied
    for host in ("h1", "h2"):
        assert servers(configs[host]) == {"web-0": "ready", "web-1": "drain"}, host


def test_the_drain_waits_for_connections_then_stops_waiting() -> None:
    clock, executor = Clock(), Executor(sessions=2, clears_after=5)
    ctl = controller(clock)
    ctl.before(state(), observations(), hoststate.Plan((delete("web-1", "h2"),)), TARGETS,
               executor)  # type: ignore[arg-type]  # fmt: skip
    assert executor.reads == 6  # five reads saw sessions, the sixth none
    assert clock.now == pytest.approx(0.5)
    assert ctl.drain_timeouts == 0


def test_the_drain_gives_up_after_the_grace_period() -> None:
    clock, executor = Clock(), Executor(sessions=1, clears_after=10_000)
    ctl = controller(clock)
    ctl.before(state(grace=3), observations(), hoststate.Plan((delete("web-1", "h2"),)),
               TARGETS, executor)  # type: ignore[arg-type]  # fmt: skip
    assert clock.now == pytest.approx(3.0, abs=0.15)
    assert ctl.drain_timeouts == 1


def test_without_a_stopping_pod_nothing_waits() -> None:
    clock, executor = Clock(), Executor(sessions=5, clears_after=10_000)
    ctl = controller(clock)
    assert ctl.before(state(), observations(), hoststate.Plan(), TARGETS, executor) == ()  # type: ignore[arg-type]
    assert executor.reads == 0 and clock.now == 0


def test_after_the_plan_deleted_pods_leave_and_replaced_ones_wait_for_readiness() -> None:
    clock, executor = Clock(), Executor()
    ctl = controller(clock)
    replace = hoststate.Action(hoststate.ActionKind.REPLACE, "h1", NS, "web-0",
                               observed=pod("web-0", "h1"))  # fmt: skip
    results = [
        hoststate.ActionResult(delete("web-1", "h2"), hoststate.Outcome.DONE),
        hoststate.ActionResult(replace, hoststate.Outcome.DONE),
    ]
    ctl.after(state(), observations(), results, TARGETS, executor)  # type: ignore[arg-type]
    (configs,) = executor.applied
    assert servers(configs["h1"]) == {}, "a replaced pod is back only once seen Ready"
    assert ctl.endpoints(NS, "web") == []


def test_conditions_say_which_balancers_run_and_which_services_have_endpoints() -> None:
    clock, executor = Clock(), Executor()
    ctl = controller(clock)
    ctl.before(state(), observations(), hoststate.Plan(), TARGETS, executor)  # type: ignore[arg-type]
    found = {(c.kind, c.name, c.reason) for c in ctl.conditions(state())}
    assert ("Host", "h1", "LoadBalancerRunning") in found
    assert ("Service", "web", "EndpointsReady") in found
    assert ctl.endpoints(NS, "web") == ["10.0.0.1:8080", "10.0.0.2:8080"]


def test_a_balancer_found_dead_and_started_again_is_told_once() -> None:
    ctl = controller(Clock())
    ctl.statuses["h1"] = loadbalancer.Status("h1", running=True)

    class Restarting(Executor):
        def lb_apply(self, targets, configs):  # type: ignore[no-untyped-def]
            return {t.name: loadbalancer.Status(t.name, running=True, started=True)
                    for t in targets}  # fmt: skip

    ctl.before(state(), observations(), hoststate.Plan(), TARGETS, Restarting())  # type: ignore[arg-type]
    assert ctl.take_restarted() == ["h1"]  # h2 was not known to run before: a first start
    assert ctl.take_restarted() == []


def test_stopping_pods_take_the_grace_period_from_git() -> None:
    graces = balancers.stopping_pods(state(grace=7), hoststate.Plan((delete("web-1", "h2"),)))
    assert graces == {(NS, "web-1"): 7.0}
    unknown = hoststate.Action(hoststate.ActionKind.DELETE, "h1", NS, "gone",
                               observed=pod("gone", "h1", owner=""))  # fmt: skip
    graces = balancers.stopping_pods(state(), hoststate.Plan((unknown,)))
    assert graces == {(NS, "gone"): balancers.DEFAULT_GRACE}

