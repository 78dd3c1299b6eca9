"""Container lifecycle hooks run from the reconciler over the host's connection, reusing the
probes' machinery (`probing`): exec through Podman's exec API, httpGet to where the container
port is published on the host's 127.0.0.1, sleep as a wait here.

`podcreate` calls `post_start` right after it started containers (a failed hook kills the
container: the pod lifecycle controller then restarts it per restartPolicy) and `pre_stop` before
it stops a pod (each hook bounded by the pod's grace period, the hooked containers then stopped
with what is left of it). Hooks of one pod run in parallel; other hosts are never waited for.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

from reconciler.executor import errors, hooklabels, hostsession, observed, probing
from reconciler.model import hooks, hoststate, workloads

log = logging.getLogger(__name__)

POST_START_TIMEOUT = 30
"""Seconds a postStart hook may take (Kubernetes sets none; an endless one would hold the
host's actions)."""
MIN_STOP_GRACE = 2
"""Seconds a container gets after its preStop hook to end on SIGTERM (Kubernetes' 2 s too)."""


def _probe(handler: hooks.Handler, timeout: float) -> workloads.Probe:
    kind = (
        workloads.ProbeHandler.EXEC
        if handler.action is hooks.HookAction.EXEC
        else workloads.ProbeHandler.HTTP_GET
    )
    return workloads.Probe(
        kind,
        command=handler.command,
        port=handler.port,
        path=handler.path,
        http_headers=handler.http_headers,
        timeout_seconds=max(1, math.ceil(timeout)),
    )


def run_hook(
    session: hostsession.HostSession, container: str, hook: hooklabels.Hook, timeout: float
) -> hoststate.ProbeResult:
    """Run one hook of `container` (a Podman name or id) within `timeout` seconds."""
    handler = hook.handler
    if handler.action is hooks.HookAction.SLEEP:
        started = time.monotonic()
        time.sleep(max(0.0, min(float(handler.seconds), timeout)))
        return hoststate.ProbeResult(True, f"slept {handler.seconds}s", time.monotonic() - started)
    probe = _probe(handler, timeout)
    if handler.action is hooks.HookAction.EXEC:
        return probing.exec_command(session.api, container, probe)
    if hook.host_port is None:
        return hoststate.ProbeResult(
            False, f"container port {handler.port} is not published on the host's 127.0.0.1"
        )
    return session.run_async(
        probing.http_get(session.connection, hook.host_port, handler.port, probe)
    )


def post_start(
    session: hostsession.HostSession,
    pod: str,
    started: Sequence[tuple[str, str, hooklabels.ContainerHooks]],
) -> list[str]:
    """Run the postStart hooks of the just started containers of `pod`, given as (manifest
    name, Podman name or id, hooks), in parallel; a container whose hook fails is stopped.
    Returns one message per failed hook, each with the FailedPostStartHook reason."""
    todo = [(name, cid, found.post_start) for name, cid, found in started if found.post_start]
    if not todo:
        return []

    def one(item: tuple[str, str, hooklabels.Hook | None]) -> str:
        name, cid, hook = item
        assert hook is not None
        result = run_hook(session, cid, hook, POST_START_TIMEOUT)
        if result.ok:
            return ""
        message = (f"{hooks.FAILED_POST_START}: container {name}: postStart hook failed "
                   f"({result.message}); the container is killed")  # fmt: skip
        log.warning("host %s: pod %s: %s", session.target.name, pod, message)
        try:
            session.api.stop_container(cid, MIN_STOP_GRACE)
        except errors.OperationFailed as exc:
            log.warning("host %s: stopping %s after its failed hook: %s",
                        session.target.name, name, exc)  # fmt: skip
        return message

    return [m for m in session.map(one, todo) if m]


def pre_stop(session: hostsession.HostSession, pod: str, pod_id: str) -> list[str]:
    """Run the preStop hooks of the pod's running containers, in parallel, each within the
    pod's grace period; then stop each hooked container with what is left of it (at least
    MIN_STOP_GRACE). Returns a message per failed hook (the stop goes on regardless)."""
    listed = session.api.list_containers({**observed.managed_filter(), "pod": [pod_id]})
    todo: list[tuple[str, str, hooklabels.Hook, int]] = []
    for entry in listed:
        labels = {str(k): str(v) for k, v in (entry.get("Labels") or {}).items()}
        if str(entry.get("State", "")) not in observed.RUNNING_STATES:
            continue
        name = labels.get(hoststate.LABEL_CONTAINER, "")
        found = hooklabels.decode(labels.get(hooklabels.LABEL_HOOKS, ""), name)
        if found.pre_stop is not None:
            todo.append((str(entry.get("Id", "")), name, found.pre_stop, found.grace_seconds))
    if not todo:
        return []

    def one(item: tuple[str, str, hooklabels.Hook, int]) -> str:
        container_id, name, hook, grace = item
        started = time.monotonic()
        result = run_hook(session, container_id, hook, max(1, grace))
        left = max(MIN_STOP_GRACE, math.ceil(grace - (time.monotonic() - started)))
        try:
            session.api.stop_container(container_id, left)
        except errors.OperationFailed as exc:
            log.warning("host %s: pod %s: stopping %s: %s", session.target.name, pod, name, exc)
        if result.ok:
            return ""
        message = (f"{hooks.FAILED_PRE_STOP}: container {name}: preStop hook failed "
                   f"({result.message})")  # fmt: skip
        log.warning("host %s: pod %s: %s", session.target.name, pod, message)
        return message

    return [m for m in session.map(one, todo) if m]


def before_restart(
    session: hostsession.HostSession,
    name: str,
    inspect: dict[str, object],
    found: hooklabels.ContainerHooks,
) -> list[str]:
    """The preStop hook of a running container about to be restarted (a failed liveness
    probe: Kubernetes runs it before the kill), within the grace period; a message if it
    failed."""
    state = inspect.get("State")
    status = state.get("Status") if isinstance(state, dict) else ""
    if found.pre_stop is None or status not in observed.RUNNING_STATES:
        return []
    container_id = str(inspect.get("Id") or name)
    result = run_hook(session, container_id, found.pre_stop, max(1, found.grace_seconds))
    if result.ok:
        return []
    return [f"{hooks.FAILED_PRE_STOP}: container {name}: preStop hook failed ({result.message})"]
