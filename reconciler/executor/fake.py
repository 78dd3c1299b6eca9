"""`FakeExecutor`: an in-memory `HostExecutor` for controller, daemon and CLI tests (no SSH, no
Podman, microseconds per call). It keeps the real executor's observable behaviour: the same
labels and observed values (built with `podmanspec` and `observed`), the same outcomes (SKIPPED
on an unreachable host, FAILED for a bad image), the same mutation counters.

Tests steer it: `kill`/`revive` a host, `fail_image`, `fail_next`, `set_container_state`,
`fail_events`, `set_probe`/`clear_probe`, `lb` (`haproxy_fake`: kill a host's HAProxy). It logs
pod and container events as Podman would (create, start, died, remove).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import threading
import time
from collections.abc import Iterable, Mapping, Sequence

from reconciler.executor import errors, haproxy_fake, observed, podmanspec, protocol
from reconciler.model import hoststate, loadbalancer
from reconciler.model import metrics as usage

Key = tuple[str, str]  # (namespace, name)
Container = hoststate.ObservedContainer | hoststate.ContainerRun
ProbeKey = tuple[str, str, str, str, hoststate.ProbeKind]  # host, namespace, pod, container, kind
Observed = hoststate.ObservedContainer


class FakeExecutor:
    """See the module docstring. Pods live in `self.pods[host][(namespace, name)]`."""

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self._lock = threading.RLock()
        self._stats = protocol.ExecutorStats()
        self._ids = itertools.count(1)
        self.pods: dict[str, dict[Key, hoststate.ObservedPod]] = {h: {} for h in hosts}
        self.images: dict[str, set[str]] = {}
        self.unreachable: dict[str, str] = {}
        self.bad_images: dict[str, str] = {}
        self.failures: dict[tuple[str, str, str], str] = {}
        self.calls: list[str] = []
        self.event_log: dict[str, list[tuple[Key, hoststate.PodEvent]]] = {}
        self.events_failure: dict[str, str] = {}
        self.probe_results: dict[ProbeKey, hoststate.ProbeResult] = {}
        self.probe_calls: list[ProbeKey] = []  # every probe run, in order
        self.exit_watch: dict[str, protocol.ExitCallback] = {}  # host -> on_exit
        self.closed = False
        self.usages: dict[tuple[str, str, str], tuple[float, int]] = {}  # millicores, bytes
        self.metrics_step = 15.0  # seconds between two `metrics` samples (the fake's clock)
        self._metrics_time = 0.0
        self._cpu_seconds: dict[str, float] = {}  # podman id -> cumulative
        self.lb = haproxy_fake.FakeBalancers(self._stats)  # the hosts' load balancers
        self.answered: dict[str, float] = {}  # host -> time.monotonic() of its last answer
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

    @classmethod
    def _without_restart_counts(cls, pod: hoststate.ObservedPod) -> hoststate.ObservedPod:
        unknown = (dataclasses.replace(c, restart_count=None) for c in pod.containers)
        return cls._with(pod, tuple(unknown))

    @staticmethod
    def _with(
        pod: hoststate.ObservedPod, containers: tuple[hoststate.ObservedContainer, ...]
    ) -> hoststate.ObservedPod:
        entry = {"Id": pod.podman_id, "Labels": dict(pod.labels), "Created": pod.created_at}
        built = observed.pod(pod.host, entry, containers)
        assert built is not None
        return built

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

    # ----- actions ---------------------------------------------------------------------------

    def _one(self, action: hoststate.Action, names: set[str]) -> hoststate.ActionResult:
        started = time.monotonic()
        self.calls.append(f"{action.kind} {action.host} {action.namespace}/{action.name}")
        if action.host not in names:
            message = f"no Host named {action.host!r} among the targets"
            return hoststate.ActionResult(action, hoststate.Outcome.FAILED, message)
        why = self.unreachable.get(action.host)
        if why is not None:
            message = str(errors.HostUnreachable(action.host, action.host, why))
            return hoststate.ActionResult(action, hoststate.Outcome.SKIPPED, message)
        self.answered[action.host] = time.monotonic()
        try:
            failure = self.failures.pop((action.host, action.namespace, action.name), None)
            if failure is not None:
                raise errors.PodError(action.host, f"{action.namespace}_{action.name}", failure)
            message = self._dispatch(action)
            outcome = hoststate.Outcome.DONE
        except errors.ExecutorError as exc:
            outcome, message = hoststate.Outcome.FAILED, str(exc)
        return hoststate.ActionResult(action, outcome, message, time.monotonic() - started)

    def _dispatch(self, action: hoststate.Action) -> str:
        if action.kind is hoststate.ActionKind.CREATE and action.run is not None:
            return self._create(action.run)
        if action.kind is hoststate.ActionKind.DELETE and action.observed is not None:
            return self._delete(action.host, action.observed.key)
        if action.kind is hoststate.ActionKind.REPLACE and action.run and action.observed:
            podmanspec.validate(action.run)
            self._pull(action.run)
            self._delete(action.host, action.observed.key)
            return self._create(action.run).replace("created", "replaced", 1)
        if action.kind is hoststate.ActionKind.RESTART and action.observed and action.container:
            return self._restart(action.host, action.observed, action.container)
        raise errors.PodError(action.host, action.name, f"malformed {action.kind} action")

    def _pull(self, run: hoststate.PodRun) -> None:
        present = self.images.setdefault(run.host, set())
        for image, policy in podmanspec.images(run):
            if policy != "Always" and image in present:
                continue
            if policy == "Never":
                raise errors.ImagePullError(
                    run.host, run.podman_name, image,
                    "it is not present on the host and imagePullPolicy is Never",
                )  # fmt: skip
            self._stats.count(protocol.Mutation.IMAGE_PULL)
            if image in self.bad_images:
                raise errors.ImagePullError(
                    run.host, run.podman_name, image, self.bad_images[image]
                )
            present.add(image)

    def _create(self, run: hoststate.PodRun) -> str:
        podmanspec.validate(run)
        self._pull(run)
        pods = self.pods.setdefault(run.host, {})
        existing = pods.get((run.namespace, run.name))
        if existing is not None:
            if existing.spec_hash == run.spec_hash:
                return f"pod {run.podman_name} already exists with this spec"
            self._delete(run.host, existing.key)
        count = self._stats.count
        count(protocol.Mutation.FILE_WRITE, len(run.files))
        count(protocol.Mutation.VOLUME_CREATE, len(run.volumes))
        count(protocol.Mutation.POD_CREATE)
        count(protocol.Mutation.CONTAINER_CREATE, len(run.containers))
        count(protocol.Mutation.POD_START)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        containers = tuple(
            hoststate.ObservedContainer(
                name=c.name,
                podman_id=f"fake-container-{next(self._ids)}",
                image=c.image,
                state="running",
                started_at=now,
                probes=c.probes,
            )
            for c in run.containers
        )
        entry = {
            "Id": f"fake-pod-{next(self._ids)}",
            "Labels": podmanspec.pod_labels(run),
            "Created": now,
        }
        built = observed.pod(run.host, entry, containers)
        assert built is not None
        pods[built.key] = built
        self._log_create(run)
        return f"pod {run.podman_name} created and started ({len(run.containers)} container(s))"

    def _delete(self, host: str, key: Key) -> str:
        pod = self.pods.setdefault(host, {}).pop(key, None)
        name = podmanspec.pod_name(*key)
        if pod is None:
            return f"pod {name} was already gone; its leftovers removed"
        self._stats.count(protocol.Mutation.POD_STOP)
        self._stats.count(protocol.Mutation.POD_REMOVE)
        self._log_delete(host, pod)
        if pod.labels.get(podmanspec.LABEL_DIRS):
            self._stats.count(protocol.Mutation.DIR_REMOVE)
        return f"pod {name} removed"

    def _restart(self, host: str, target: hoststate.ObservedPod, name: str) -> str:
        """Stop the container if it runs (died 143), then start it, as Podman's restart does."""
        pod = self.pods.setdefault(host, {}).get(target.key)
        wanted = next((c.podman_id for c in target.containers if c.name == name), None)
        found = [c for c in pod.containers if c.podman_id == wanted] if pod else []
        if pod is None or not found:
            raise errors.PodmanRequestFailed(host, podmanspec.pod_name(*target.key),
                "restart container", f"container {name} no longer exists")  # fmt: skip
        self._stats.count(protocol.Mutation.CONTAINER_RESTART)
        if found[0].state in observed.RUNNING_STATES:
            self._log(host, pod.key, "died", found[0], 143)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        changed = tuple(
            dataclasses.replace(c, state="running", exit_code=0, started_at=now)
            if c.podman_id == wanted
            else c
            for c in pod.containers
        )
        self.pods[host][pod.key] = self._with(pod, changed)
        self._log(host, pod.key, "restart", found[0])
        return f"container {name} of pod {podmanspec.pod_name(*pod.key)} restarted"

    # ----- events ----------------------------------------------------------------------------

    def _log(
        self,
        host: str,
        key: Key,
        action: str,
        container: Container | None = None,
        exit_code: int | None = None,
    ) -> None:
        """Log one event: the pod's without `container`, else that container's."""
        if container is None:
            event = hoststate.PodEvent(time.time(), action, hoststate.EventObject.POD, key[1])
        else:
            event = hoststate.PodEvent(time.time(), action, hoststate.EventObject.CONTAINER,
                                       container.name, exit_code, container.image)  # fmt: skip
        self.event_log.setdefault(host, []).append((key, event))
        on_exit = self.exit_watch.get(host)
        watched = on_exit is not None and host not in self.unreachable  # a lost host: no stream
        if on_exit and watched and action == "died" and isinstance(container, Observed):
            on_exit(hoststate.ContainerExit(host, *key, container.name, container.podman_id,
                                            exit_code or 0, event.time))  # fmt: skip

    def _log_create(self, run: hoststate.PodRun) -> None:
        key = (run.namespace, run.name)
        self._log(run.host, key, "create")
        for c in run.containers:
            self._log(run.host, key, "create", c)
        self._log(run.host, key, "start")
        for c in run.containers:
            self._log(run.host, key, "start", c)

    def _log_delete(self, host: str, pod: hoststate.ObservedPod) -> None:
        for c in pod.containers:
            if c.state in observed.RUNNING_STATES:
                self._log(host, pod.key, "died", c, 143)
            self._log(host, pod.key, "remove", c)
        self._log(host, pod.key, "remove")


def _conforms(executor: FakeExecutor) -> protocol.HostExecutor:
    return executor  # mypy checks that FakeExecutor implements the protocol
