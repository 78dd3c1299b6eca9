"""The fake hosts' pods and the Podman actions on them, for `fake.FakeExecutor` (its base):
create, delete, replace and restart with the real executor's labels, observed values, outcomes
and mutation counters, each logging the events Podman would (create, start, died, remove).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Iterable

from reconciler.executor import errors, observed, podmanspec, protocol
from reconciler.model import hoststate

Key = tuple[str, str]  # (namespace, name)
Container = hoststate.ObservedContainer | hoststate.ContainerRun
Observed = hoststate.ObservedContainer


class FakePodman:
    """Pods in `self.pods[host][(namespace, name)]`, images pulled per host, the event log;
    `unreachable` hosts skip their actions, `bad_images` fail to pull, `failures` fail the
    next action on a pod. Every method expects the caller to hold `self._lock`."""

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
        self.exit_watch: dict[str, protocol.ExitCallback] = {}  # host -> on_exit
        self.answered: dict[str, float] = {}  # host -> time.monotonic() of its last answer

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
                raise errors.ImagePullError.never_pulled(run.host, run.podman_name, image)
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


