"""The endpoints controller: every host's load balancer serves each Service's Ready pods.

Runs inside `sync.converge`, around the plan: (1) the pods the plan is about to stop (delete,
replace) are set to drain on every host's HAProxy and the controller waits until their
in-flight connections are done (up to the pod's terminationGracePeriodSeconds); (2) the plan
runs; (3) every host's HAProxy is brought to the endpoints of what now runs. A pod enters
rotation in the first pass that sees it Ready (the prober wakes the loop when it turns Ready).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.executor import protocol
from reconciler.model import hoststate, loadbalancer, objects
from reconciler.plan import headless
from reconciler.state import conditions as cond

Observations = Mapping[str, hoststate.HostObservation]
PodKey = tuple[str, str]
DEFAULT_GRACE = 30.0
"""Seconds a stopping pod's in-flight connections may take when its manifest says nothing."""
STOPPING = frozenset({hoststate.ActionKind.DELETE, hoststate.ActionKind.REPLACE})
Asked = tuple[objects.DesiredState, dict[str, hoststate.HostObservation], frozenset[PodKey]]
"""What `headless.configs` was asked with: the state, the observations, the pods draining."""


@dataclass
class Balancers:
    """The controller's memory: the last status read from each host's load balancer."""

    poll: float = 0.05
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    statuses: dict[str, loadbalancer.Status] = field(default_factory=dict)
    configs: dict[str, loadbalancer.Config] = field(default_factory=dict)  # last applied
    restarted: list[str] = field(default_factory=list)  # hosts whose HAProxy had died (events)
    drained: int = 0  # pods drained before they stopped, since start (metrics)
    drain_timeouts: int = 0  # drains cut short by the grace period
    _last_configs: tuple[Asked, Mapping[str, loadbalancer.Config]] | None = field(
        default=None, repr=False
    )
    _rotation: tuple[tuple[loadbalancer.Config, ...],
                     Mapping[tuple[str, str], tuple[str, ...]]] | None = field(
        default=None, repr=False
    )  # fmt: skip

    def wanted(self, state: objects.DesiredState) -> bool:
        """Whether any host needs a call: a Service exists, a balancer still runs, or nothing
        is known yet (a balancer left running by an earlier revision is stopped)."""
        return (
            bool(state.services)
            or not self.statuses
            or any(s.running for s in self.statuses.values())
        )

    def before(
        self,
        state: objects.DesiredState,
        observations: Observations,
        plan: hoststate.Plan,
        targets: Sequence[hoststate.HostTarget],
        executor: protocol.HostExecutor,
    ) -> tuple[PodKey, ...]:
        """Drain the pods `plan` stops, wait for their connections to finish; the pods drained.

        Without a stopping pod this is the only load-balancer update of the pass."""
        if not self.wanted(state):
            return ()
        stopping = stopping_pods(state, plan)
        configs = self._configs(state, observations, frozenset(stopping))
        self._apply(targets, configs, executor)
        draining = _serving(configs, frozenset(stopping))
        if draining:
            deadline = self.clock() + max(stopping[key] for key in draining.values())
            self._wait(frozenset(draining), deadline, targets, executor)
            self.drained += len(set(draining.values()))
        return tuple(sorted(set(draining.values())))

    def after(
        self,
        state: objects.DesiredState,
        observations: Observations,
        results: Sequence[hoststate.ActionResult],
        targets: Sequence[hoststate.HostTarget],
        executor: protocol.HostExecutor,
    ) -> None:
        """Bring every host's balancer to what runs once the plan is done: deleted pods leave,
        replaced ones wait (not Ready) until a later pass sees them Ready."""
        if not self.wanted(state) or not any(r.action.kind in STOPPING for r in results):
            return
        now = without_stopped(observations, results)
        self._apply(targets, self._configs(state, now, frozenset()), executor)

    def _configs(
        self, state: objects.DesiredState, observations: Observations, draining: frozenset[PodKey]
    ) -> Mapping[str, loadbalancer.Config]:
        """`headless.configs`, its last answer again when asked with what it was last asked (it
        is pure): a resync that changed nothing has every host's config from the last one."""
        asked: Asked = (state, dict(observations), draining)
        last = self._last_configs
        if last is not None and all(a is b or a == b for a, b in zip(asked, last[0], strict=True)):
            return last[1]
        configs = headless.configs(state, observations, draining=draining)
        self._last_configs = (asked, configs)
        return configs

    def _apply(
        self,
        targets: Sequence[hoststate.HostTarget],
        configs: Mapping[str, loadbalancer.Config],
        executor: protocol.HostExecutor,
    ) -> None:
        reached = [t for t in targets if t.name in configs]
        for host, status in executor.lb_apply(reached, configs).items():
            before = self.statuses.get(host)
            if status.started and before is not None and before.running:
                self.restarted.append(host)
            self.statuses[host] = status
            self.configs[host] = configs[host]

    def take_restarted(self) -> list[str]:
        """Hosts whose load balancer was found dead and started again since the last call."""
        hosts, self.restarted = self.restarted, []
        return hosts

    def endpoints(self, namespace: str, service: str) -> list[str]:
        """`address:port` of the Service's servers in rotation, as last applied."""
        return list(self._in_rotation().get((namespace, service), ()))

    def _in_rotation(self) -> Mapping[tuple[str, str], tuple[str, ...]]:
        """Every Service's servers in rotation, read once from the configs last applied (the
        status conditions and the metrics ask for each Service in turn)."""
        applied = tuple(self.configs.values())  # kept with the answer: their ids stay unique
        if self._rotation is None or len(applied) != len(self._rotation[0]) or any(
            a is not b for a, b in zip(applied, self._rotation[0], strict=True)
        ):
            found: dict[tuple[str, str], set[str]] = {}
            for config in applied:
                for listener in config.listeners:
                    ready = found.setdefault((listener.namespace, listener.service), set())
                    ready.update(
                        f"{server.address}:{server.port}" for server in listener.servers
                        if server.state is loadbalancer.ServerState.READY
                    )  # fmt: skip
            self._rotation = (applied, {key: tuple(sorted(v)) for key, v in found.items()})
        return self._rotation[1]

    def conditions(self, state: objects.DesiredState) -> list[cond.Condition]:
        """LoadBalancerReady of every host that has Services to serve, Ready of every
        Service (its endpoints), from the last update."""
        out: list[cond.Condition] = []
        if not state.services:
            return out
        kind = cond.ConditionType.LOAD_BALANCER
        for host, status in sorted(self.statuses.items()):
            if status.running:
                message = f"pid {status.pid}" + (f"; {status.error}" if status.error else "")
                out.append(cond.Condition("Host", "", host, kind, cond.ConditionStatus.TRUE,
                                          cond.Reason.LB_RUNNING, message))  # fmt: skip
            else:
                out.append(cond.Condition("Host", "", host, kind, cond.ConditionStatus.FALSE,
                                          cond.Reason.LB_DOWN, status.error))  # fmt: skip
        for service in state.services:
            ready = self.endpoints(service.meta.namespace, service.meta.name)
            truth = cond.ConditionStatus.TRUE if ready else cond.ConditionStatus.FALSE
            reason = cond.Reason.ENDPOINTS_READY if ready else cond.Reason.NO_ENDPOINTS
            message = (
                f"{len(ready)} endpoint(s): {', '.join(ready)}"
                if ready
                else "no Ready pod matches the selector"
            )
            key = (service.meta.namespace, service.meta.name)
            out.append(cond.Condition("Service", *key, cond.ConditionType.READY, truth,
                                      reason, message))  # fmt: skip
        return out

    def _wait(
        self,
        servers: frozenset[tuple[str, str]],
        deadline: float,
        targets: Sequence[hoststate.HostTarget],
        executor: protocol.HostExecutor,
    ) -> None:
        """Until no host has a connection open to any of `servers` (listener, server)."""
        while True:
            statuses = executor.lb_status(targets)
            busy = sum(
                s.sessions
                for status in statuses.values()
                if status.running
                for s in status.servers
                if (s.listener, s.server) in servers
            )
            if busy == 0:
                return
            if self.clock() >= deadline:
                self.drain_timeouts += 1
                return
            self.sleep(self.poll)


def _serving(
    configs: Mapping[str, loadbalancer.Config], stopping: frozenset[PodKey]
) -> dict[tuple[str, str], PodKey]:
    """(listener, server) of every stopping pod that serves some listener (the only ones worth
    waiting for), to the pod."""
    found: dict[tuple[str, str], PodKey] = {}
    for config in configs.values():
        for listener in config.listeners:
            for server in listener.servers:
                key = (listener.namespace, server.pod or server.name)
                if key in stopping:
                    found[(listener.name, server.name)] = key
    return found


def stopping_pods(state: objects.DesiredState, plan: hoststate.Plan) -> dict[PodKey, float]:
    """Pods the plan stops (delete or replace), each with the seconds its connections may take:
    its Deployment's (or its own) terminationGracePeriodSeconds in git, else DEFAULT_GRACE."""
    graces: dict[PodKey, float] = {}
    for action in plan.actions:
        if action.kind not in STOPPING:
            continue
        grace: float | None = None
        if action.run is not None and action.run.termination_grace_seconds is not None:
            grace = float(action.run.termination_grace_seconds)
        if grace is None and action.observed is not None:
            grace = _declared_grace(state, action.observed)
        graces[(action.namespace, action.name)] = DEFAULT_GRACE if grace is None else grace
    return graces


def _declared_grace(state: objects.DesiredState, pod: hoststate.ObservedPod) -> float | None:
    kind, _, name = pod.owner.partition("/")
    if kind == "Deployment":
        for deployment in state.deployments:
            if (deployment.meta.namespace, deployment.meta.name) == (pod.namespace, name):
                return _grace(deployment.template.spec.termination_grace_period_seconds)
    for bare in state.pods:
        if (bare.meta.namespace, bare.meta.name) == pod.key:
            return _grace(bare.spec.termination_grace_period_seconds)
    return None


def _grace(value: int | None) -> float | None:
    return None if value is None else float(value)


def without_stopped(
    observations: Observations, results: Sequence[hoststate.ActionResult]
) -> dict[str, hoststate.HostObservation]:
    """`observations` as they are after `results`: deleted pods gone, replaced pods not Ready."""
    deleted: set[tuple[str, str, str]] = set()
    replaced: set[tuple[str, str, str]] = set()
    for result in results:
        action = result.action
        key = (action.host, action.namespace, action.name)
        if action.kind is hoststate.ActionKind.DELETE and result.outcome is hoststate.Outcome.DONE:
            deleted.add(key)
        elif action.kind is hoststate.ActionKind.REPLACE:
            replaced.add(key)
    out: dict[str, hoststate.HostObservation] = {}
    for host, seen in observations.items():
        pods = []
        for pod in seen.pods:
            key = (host, pod.namespace, pod.name)
            if key in deleted:
                continue
            pods.append(dataclasses.replace(pod, ready=False) if key in replaced else pod)
        out[host] = dataclasses.replace(seen, pods=tuple(pods))
    return out
