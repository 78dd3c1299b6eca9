"""`FakeExecutor`: an in-memory `HostExecutor` for controller, daemon and CLI tests (no SSH, no
Podman, microseconds per call). It keeps the real executor's observable behaviour: the same
labels and observed values (built with `podmanspec` and `observed`), the same outcomes (SKIPPED
on an unreachable host, FAILED for a bad image), the same mutation counters (the pods and the
actions on them are its base, `fakepods.FakePodman`).

Tests steer it: `kill`/`revive` a host, `fail_image`, `fail_next`, `set_container_state`,
`fail_events`, `set_probe`/`clear_probe`, `lb` (`haproxy_fake`: kill a host's HAProxy). It logs
pod and container events as Podman would (create, start, died, remove).
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence

from reconciler.executor import errors, fakepods, haproxy_fake, observed, protocol
from reconciler.model import hoststate, loadbalancer
from reconciler.model import metrics as usage

ProbeKey = tuple[str, str, str, str, hoststate.ProbeKind]  # host, namespace, pod, container, kind


class FakeExecutor(fakepods.FakePodman):
    """See the module docstring. Pods live in `self.pods[host][(namespace, name)]` (`fakepods`)."""

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        super().__init__(hosts)
        self.events_failure: dict[str, str] = {}
        self.probe_results: dict[ProbeKey, hoststate.ProbeResult] = {}
        self.probe_calls: list[ProbeKey] = []  # every probe run, in order
        self.closed = False
        self.usages: dict[tuple[str, str, str], tuple[float, int]] = {}  # millicores, bytes
        self.metrics_step = 15.0  # seconds between two `metrics` samples (the fake's clock)
        self._metrics_time = 0.0
        self._cpu_seconds: dict[str, float] = {}  # podman id -> cumulative
        self.lb = haproxy_fake.FakeBalancers(self._stats)  # the hosts' load balancers
        self.pings: collections.Counter[str] = collections.Counter()  # host -> pings made

    @property
    def stats(self) -> protocol.ExecutorStats:
        return self._stats

    # ----- steering (tests) ------------------------------------------------------------------

    def kill(self, host: str, why: str = "no answer within 10s") -> None:
        """Make `host` unreachable: observe reports it, apply skips its actions."""
        with self._lock:
            self.unreachable[host] = why

    def revive(self, host: str) -> None:
        with self._lock:
            self.unreachable.pop(host, None)

    def fail_image(self, image: str, detail: str = "manifest unknown") -> None:
        """Pulling `image` fails (like a registry without that image)."""
        with self._lock:
            self.bad_images[image] = detail

    def fail_next(self, host: str, namespace: str, name: str, message: str) -> None:
        """The next action on that pod fails with `message`."""
        with self._lock:
            self.failures[(host, namespace, name)] = message

    def fail_events(self, host: str, detail: str = "cannot read the event log") -> None:
        """Reading events on `host` fails (like a Podman whose event log is unreadable)."""
        with self._lock:
            self.events_failure[host] = detail

    def set_container_state(
        self, host: str, namespace: str, name: str, state: str, exit_code: int = 0
    ) -> None:
        """Give every container of a pod a podman state (e.g. "exited", 1); phase follows."""
        with self._lock:
            pod = self.pods[host][(namespace, name)]
            containers = tuple(
                dataclasses.replace(c, state=state, exit_code=exit_code) for c in pod.containers
            )
            self.pods[host][(namespace, name)] = self._with(pod, containers)
            for c in pod.containers:
                if state in observed.DONE_STATES and c.state in observed.RUNNING_STATES:
                    self._log(host, pod.key, "died", c, exit_code)

    def exit_container(
        self, host: str, namespace: str, name: str, container: str, exit_code: int = 1
    ) -> None:
        """One container of a pod exits (a crash): its state becomes "exited", Podman's died
        event is logged and, when the host is watched (`watch_exits`), reported."""
        with self._lock:
            pod = self.pods[host][(namespace, name)]
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            changed = [
                dataclasses.replace(c, state="exited", exit_code=exit_code, finished_at=now)
                if c.name == container
                else c
                for c in pod.containers
            ]
            self.pods[host][pod.key] = self._with(pod, tuple(changed))
            for before in pod.containers:
                if before.name == container and before.state in observed.RUNNING_STATES:
                    self._log(host, pod.key, "died", before, exit_code)

    def set_probe(
        self,
        host: str,
        namespace: str,
        name: str,
        container: str,
        kind: hoststate.ProbeKind,
        *,
        ok: bool,
        message: str = "",
    ) -> None:
        """Every later run of that probe of that container gives this result (`clear_probe`
        returns it to the default: passed while the container runs)."""
        with self._lock:
            result = hoststate.ProbeResult(ok, message or ("passed" if ok else "failed"))
            self.probe_results[(host, namespace, name, container, kind)] = result

    def clear_probe(
        self, host: str, namespace: str, name: str, container: str, kind: hoststate.ProbeKind
    ) -> None:
        with self._lock:
            self.probe_results.pop((host, namespace, name, container, kind), None)

    # ----- HostExecutor ----------------------------------------------------------------------

    def ping(self, target: hoststate.HostTarget) -> str | None:
        with self._lock:
            self.pings[target.name] += 1
            self._stats.count_read()
            why = self.unreachable.get(target.name)
            if why is not None:
                return str(errors.HostUnreachable(target.name, target.address, why))
            self.answered[target.name] = time.monotonic()
            return None

    def answer_age(self, host: str) -> float | None:
        with self._lock:
            at = self.answered.get(host)
            return None if at is None else time.monotonic() - at

    def observe(
        self, targets: Iterable[hoststate.HostTarget], *, detail: bool = False
    ) -> dict[str, hoststate.HostObservation]:
        out: dict[str, hoststate.HostObservation] = {}
        with self._lock:
            for target in targets:
                self.calls.append(f"observe {target.name}" + (" detail" if detail else ""))
                self._stats.count_read(2)
                why = self.unreachable.get(target.name)
                if why is not None:
                    error = errors.HostUnreachable(target.name, target.address, why)
                    out[target.name] = hoststate.HostObservation(
                        target.name, False, error=str(error)
                    )
                    continue
                self.answered[target.name] = time.monotonic()
                pods = self.pods.setdefault(target.name, {})
                found = tuple(sorted(pods.values(), key=lambda p: p.key))
                if detail:  # one inspect per container, as the real executor makes
                    self._stats.count_read(sum(len(p.containers) for p in found))
                else:  # what the real list calls leave out
                    found = tuple(self._without_restart_counts(p) for p in found)
                out[target.name] = hoststate.HostObservation(target.name, True, found)
        return out

    def apply(
        self,
        plan: hoststate.Plan,
        targets: Iterable[hoststate.HostTarget],
        progress: protocol.ProgressCallback | None = None,
    ) -> list[hoststate.ActionResult]:
        names = {t.name for t in targets}
        ordered = sorted(enumerate(plan.actions), key=lambda item: item[1].wave)  # waves in order
        results: dict[int, hoststate.ActionResult] = {}
        with self._lock:
            for index, action in ordered:
                results[index] = self._one(action, names)
                if progress is not None:
                    progress(results[index])
        return [results[i] for i in range(len(plan.actions))]

    def events(
        self, target: hoststate.HostTarget, pod: hoststate.ObservedPod, since_seconds: int
    ) -> list[hoststate.PodEvent]:
        with self._lock:
            self.calls.append(f"events {target.name} {pod.namespace}/{pod.name}")
            self._stats.count_read(2)
            why = self.unreachable.get(target.name)
            if why is not None:
                raise errors.HostUnreachable(target.name, target.address, why)
            failure = self.events_failure.get(target.name)
            if failure is not None:
                raise errors.OperationFailed("read events", failure)
            since = time.time() - since_seconds
            logged = self.event_log.get(target.name, [])
            return [e for key, e in logged if key == pod.key and e.time >= since]

    def set_usage(
        self, namespace: str, pod: str, container: str, cpu_millis: float, memory: int = 0
    ) -> None:
        """What `metrics` measures for the container from now on (default 0)."""
        with self._lock:
            self.usages[(namespace, pod, container)] = (cpu_millis, memory)

    def metrics(self, targets: Iterable[hoststate.HostTarget]) -> dict[str, usage.HostMetrics]:
        """Every running container at its `set_usage`, time advancing `metrics_step` a call."""
        with self._lock:
            self._metrics_time += self.metrics_step
            out: dict[str, usage.HostMetrics] = {}
            for target in targets:
                self._stats.count_read(2)
                why = self.unreachable.get(target.name)
                if why is not None:
                    out[target.name] = usage.HostMetrics(target.name, False, error=why)
                    continue
                found = []
                for pod in self.pods.get(target.name, {}).values():
                    for c in pod.containers:
                        if c.state != "running":
                            continue
                        cpu, memory = self.usages.get((pod.namespace, pod.name, c.name), (0.0, 0))
                        total = self._cpu_seconds.get(c.podman_id, 0.0)
                        total += cpu * self.metrics_step / 1000.0
                        self._cpu_seconds[c.podman_id] = total
                        found.append(usage.ContainerUsage(pod.namespace, pod.name, c.name,
                                                          c.podman_id, total, memory))  # fmt: skip
                out[target.name] = usage.HostMetrics(
                    target.name, True, usage.Source.PROC, self._metrics_time, tuple(found)
                )
            return out

    # ----- probes and exits (filled in by the probes / lifecycle work) ---------------------

    def probe(
        self,
        target: hoststate.HostTarget,
        pod: hoststate.ObservedPod,
        container: hoststate.ObservedContainer,
        probe: hoststate.ContainerProbe,
    ) -> hoststate.ProbeResult:
        """The steered result (`set_probe`), else passed while the container runs."""
        key = (target.name, pod.namespace, pod.name, container.name, probe.kind)
        with self._lock:
            self.probe_calls.append(key)
            self._stats.count_read()
            why = self.unreachable.get(target.name)
            if why is not None:
                return hoststate.ProbeResult(
                    False, str(errors.HostUnreachable(target.name, target.address, why))
                )
            steered = self.probe_results.get(key)
            if steered is not None:
                return steered
            current = self.pods.get(target.name, {}).get(pod.key)
            found = [c for c in (current.containers if current else ()) if c.podman_id
                     == container.podman_id]  # fmt: skip
            if not found:
                return hoststate.ProbeResult(False, "container no longer exists")
            if found[0].state not in observed.RUNNING_STATES:
                return hoststate.ProbeResult(False, "container is not running")
            return hoststate.ProbeResult(True, "passed")

    def watch_exits(
        self, targets: Iterable[hoststate.HostTarget], on_exit: protocol.ExitCallback
    ) -> None:
        with self._lock:
            self.calls.append("watch_exits " + " ".join(t.name for t in targets))
            self.exit_watch = {t.name: on_exit for t in targets}

    def lb_apply(
        self,
        targets: Sequence[hoststate.HostTarget],
        configs: Mapping[str, loadbalancer.Config],
    ) -> dict[str, loadbalancer.Status]:
        with self._lock:
            return self.lb.apply(targets, configs, self.unreachable)

    def lb_status(
        self, targets: Sequence[hoststate.HostTarget]
    ) -> dict[str, loadbalancer.Status]:
        with self._lock:
            return self.lb.status(targets, self.unreachable)

    def close(self) -> None:
        self.closed = True
        self.exit_watch = {}

def _conforms(executor: FakeExecutor) -> protocol.HostExecutor:
    return executor  # mypy checks that FakeExecutor implements the protocol
