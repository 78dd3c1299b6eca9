"""Init containers on a host: created with the pod (labelled `hooklabels.LABEL_INIT`), run one
at a time, in order (`podman start`, then its exit code read back), and only when every one
ended with 0 are the app containers started and their postStart hooks run.

`podcreate._assemble` calls `create_specs` and then `start` for a new pod; a step that fails or
outlasts `INIT_WAIT` is left as Podman shows it, and `advance` (a RESTART action of the pod
lifecycle controller, `controllers.initsteps`) carries on from there: it retries a failed init
container (back-off and restartPolicy decided by the controller) or starts the next step.
Podman's own `--init-ctr` is not used: its `pod start` blocks until every init container ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.executor import errors, hooklabels, hookrun, hostsession, observed, podmanspec
from reconciler.model import hooks, hoststate

log = logging.getLogger(__name__)

INIT_WAIT = 120.0
"""Seconds one action waits for init containers; a longer one is carried on by a later
reconcile (the exit of the init container wakes the daemon)."""
POLL = 0.25


@dataclass(frozen=True)
class Step:
    """A container of the pod as Podman shows it now."""

    name: str  # the manifest's container name
    podman: str  # Podman id or name
    state: str
    exit_code: int = 0
    hooks: hooklabels.ContainerHooks = field(default_factory=hooklabels.ContainerHooks)


def create_specs(run: hoststate.PodRun, state_dir: str, stop_timeout: int) -> list[dict[str, Any]]:
    """Bodies of POST /libpod/containers/create for the run's init containers, in order."""
    specs = []
    for index, container in enumerate(run.init_containers):
        spec = podmanspec.container_spec(run, container, state_dir, stop_timeout)
        spec["labels"][hooklabels.LABEL_INIT] = str(index)
        specs.append(spec)
    return specs


def initializing(pod: hoststate.ObservedPod) -> bool:
    """Whether some init container of the pod has not ended with 0 yet."""
    return any(not done(c) for c in pod.init_containers)


def done(container: hoststate.ObservedContainer) -> bool:
    return container.state in observed.DONE_STATES and container.exit_code == 0


def start(session: hostsession.HostSession, run: hoststate.PodRun) -> str:
    """Run the init containers of a pod just created, then start its app containers."""
    inits = [
        Step(c.name, podmanspec.container_name(run, c), "created") for c in run.init_containers
    ]
    apps = [
        Step(c.name, podmanspec.container_name(run, c), "created", 0, hooklabels.of_run(run, c))
        for c in run.containers
    ]
    return _drive(session, run.podman_name, inits, apps)


def start_pod(session: hostsession.HostSession, run: hoststate.PodRun) -> str:
    """Start a pod just created: its init containers first when it has any (`start`), else
    every container at once (`podman pod start`); then the postStart hooks. Returns what
    the report adds ("" when all went as planned without init containers)."""
    if run.init_containers:
        return start(session, run)
    session.api.start_pod(run.podman_name)
    started = [
        (c.name, podmanspec.container_name(run, c), hooklabels.of_run(run, c))
        for c in run.containers
    ]
    return "; ".join(hookrun.post_start(session, run.podman_name, started))


def pending(pod: hoststate.ObservedPod) -> bool:
    """Whether the pod has init containers and its initialization has not finished: an init
    container not ended with 0, or app containers still only created."""
    if not pod.init_containers:
        return False
    return initializing(pod) or any(c.state in observed.PENDING_STATES for c in pod.containers)


def advance(session: hostsession.HostSession, pod: hoststate.ObservedPod) -> str:
    """Carry on a pod's initialization from what Podman shows now (see the module docstring)."""
    name = podmanspec.pod_name(pod.namespace, pod.name)
    inits, apps = steps(session, pod.podman_id or name)
    if not inits:
        raise errors.PodmanRequestFailed(
            session.target.name, name, "run init containers", "the pod has no init containers"
        )
    return _drive(session, name, inits, apps)


def steps(session: hostsession.HostSession, pod_id: str) -> tuple[list[Step], list[Step]]:
    """The pod's init containers (in order) and app containers, from one list call."""
    listed = session.api.list_containers({**observed.managed_filter(), "pod": [pod_id]})
    inits: list[tuple[int, Step]] = []
    apps: list[Step] = []
    for entry in listed:
        labels = {str(k): str(v) for k, v in (entry.get("Labels") or {}).items()}
        name = labels.get(hoststate.LABEL_CONTAINER, "")
        if entry.get("IsInfra") or not name:
            continue
        step = Step(
            name,
            str(entry.get("Id", "")),
            str(entry.get("State", "")),
            int(entry.get("ExitCode") or 0),
            hooklabels.decode(labels.get(hooklabels.LABEL_HOOKS, ""), name),
        )
        index = hooklabels.init_index(labels)
        if index is None:
            apps.append(step)
        else:
            inits.append((index, step))
    return [step for _, step in sorted(inits, key=lambda item: item[0])], apps


def _drive(
    session: hostsession.HostSession, pod: str, inits: Sequence[Step], apps: Sequence[Step]
) -> str:
    deadline = time.monotonic() + INIT_WAIT
    for number, step in enumerate(inits, 1):
        if step.state in observed.DONE_STATES and step.exit_code == 0:
            continue
        if step.state not in observed.RUNNING_STATES:
            try:
                session.api.start_container(step.podman)
            except errors.OperationFailed as exc:  # e.g. its command is not in the image
                return (f"pod {pod}: init container {step.name} ({number}/{len(inits)}) could "
                        f"not start: {exc.detail} ({hooks.INIT_NOT_DONE})")  # fmt: skip
        state, code = _wait(session, step.podman, deadline)
        where = f"pod {pod}: init container {step.name} ({number}/{len(inits)})"
        if state not in observed.DONE_STATES:
            return (f"{where} still runs ({hooks.INIT_NOT_DONE}: the next reconcile carries "
                    "on when it ends)")  # fmt: skip
        if code != 0:
            return (f"{where} failed with exit code {code} ({hooks.INIT_NOT_DONE}: the app "
                    "containers are not started)")  # fmt: skip
    for app in apps:
        if app.state not in observed.RUNNING_STATES:
            session.api.start_container(app.podman)
    failed = hookrun.post_start(session, pod, [(a.name, a.podman, a.hooks) for a in apps])
    report = (f"pod {pod}: {len(inits)} init container(s) completed, "
              f"{len(apps)} container(s) started")  # fmt: skip
    return "; ".join([report, *failed])


def _wait(session: hostsession.HostSession, container: str, deadline: float) -> tuple[str, int]:
    """The container's (state, exit code) once it ended, or as it is at `deadline`."""
    while True:
        found = session.api.inspect_container(container)
        if found is None:
            raise errors.PodmanRequestFailed(
                session.target.name, container, "run init container", "it no longer exists"
            )
        status = found.get("State") or {}
        state = str(status.get("Status") or "")
        code = int(status.get("ExitCode") or 0)
        if state in observed.DONE_STATES or time.monotonic() >= deadline:
            return state, code
        time.sleep(POLL)
