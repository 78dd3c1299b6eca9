"""The pod lifecycle controller's init-container half: which pods are still initializing, what
carries their initialization on, and the STATUS words `get pods` shows for them. Pure.

`sync.restart` hands `lifecycle.Restarts` the `view` of the observations, in which an
initializing pod shows only its current init container under the init restart policy (Never
stays Never; Always and OnFailure retry a failure, with the same crash back-off), and adds the
`continuations`: RESTART actions that start the next step when nothing else will (the previous
init container ended while no action waited for it). `executor.initrun.advance` runs both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from reconciler.controllers import backoff
from reconciler.executor import observed, podmanspec
from reconciler.model import base, hoststate

INIT_ERROR = "Init:Error"
INIT_CRASH_LOOP = "Init:CrashLoopBackOff"
CONTINUE = "init containers carry on"
NEVER_STARTED = "created but never started (its create was interrupted)"


def current(pod: hoststate.ObservedPod) -> hoststate.ObservedContainer | None:
    """The first init container that has not ended with 0; None when all have (or none)."""
    return next((c for c in pod.init_containers if not _succeeded(c)), None)


def _succeeded(container: hoststate.ObservedContainer) -> bool:
    return container.state in observed.DONE_STATES and container.exit_code == 0


def _failed(container: hoststate.ObservedContainer) -> bool:
    return container.state in observed.DONE_STATES and container.exit_code != 0


def view(
    observations: Mapping[str, hoststate.HostObservation],
) -> dict[str, hoststate.HostObservation]:
    """The observations as the restart registry judges them (see the module docstring)."""
    out: dict[str, hoststate.HostObservation] = {}
    for host, seen in observations.items():
        if not seen.reachable or not any(current(p) is not None for p in seen.pods):
            out[host] = seen
            continue
        out[host] = dataclasses.replace(seen, pods=tuple(_initializing(p) for p in seen.pods))
    return out


def _initializing(pod: hoststate.ObservedPod) -> hoststate.ObservedPod:
    step = current(pod)
    if step is None:
        return pod
    policy = backoff.policy_of(pod)
    init_policy = policy if policy is backoff.RestartPolicy.NEVER else "OnFailure"
    labels = dict(pod.labels)
    labels[podmanspec.LABEL_RESTART_POLICY] = str(init_policy)
    return dataclasses.replace(pod, containers=(step,), labels=base.FrozenMap(labels))


def continuations(
    observations: Mapping[str, hoststate.HostObservation],
) -> tuple[hoststate.Action, ...]:
    """RESTART actions for pods whose next step waits to be started: the current init
    container is only created while an earlier one ended with 0, or every init container
    ended with 0 and app containers are still only created; and a pod without init containers
    with a container created and never started (a daemon killed in its create: no exit event
    will ever come for it), one container a pass."""
    actions = []
    for seen in observations.values():
        if not seen.reachable:
            continue
        for pod in seen.pods:
            if not pod.init_containers:
                never = [c for c in pod.containers if c.state in observed.PENDING_STATES]
                if never:  # created and never started: an interrupted create
                    actions.append(hoststate.Action(
                        hoststate.ActionKind.RESTART, pod.host, pod.namespace, pod.name,
                        observed=pod, container=never[0].name,
                        reason=f"{NEVER_STARTED}: start container {never[0].name}",
                    ))  # fmt: skip
                continue
            step = current(pod)
            if step is None:
                waiting = [c for c in pod.containers if c.state in observed.PENDING_STATES]
                if not waiting:
                    continue
                name, reason = waiting[0].name, "init containers done: start the containers"
            elif step.state in observed.PENDING_STATES and step is not pod.init_containers[0]:
                name, reason = step.name, f"start init container {step.name}"
            else:
                continue
            actions.append(hoststate.Action(
                hoststate.ActionKind.RESTART, pod.host, pod.namespace, pod.name,
                observed=pod, reason=f"{CONTINUE}: {reason}", container=name,
            ))  # fmt: skip
    return tuple(actions)


def status(
    pod: hoststate.ObservedPod,
    records: Mapping[tuple[str, str, str], backoff.Record] | None = None,
) -> str:
    """`Init:N/M` while init containers run, `Init:Error` after one failed,
    `Init:CrashLoopBackOff` while its retry backs off; "" once all ended with 0 (or none)."""
    step = current(pod)
    if step is None:
        return ""
    if _failed(step):
        record = (records or {}).get((pod.namespace, pod.name, step.name))
        return INIT_CRASH_LOOP if record is not None and record.backing_off else INIT_ERROR
    done = pod.init_containers.index(step)
    return f"Init:{done}/{len(pod.init_containers)}"


def describe_lines(pod: hoststate.ObservedPod) -> list[str]:
    """The `Init Containers:` section of `describe pod` (none without init containers)."""
    if not pod.init_containers:
        return []
    lines = ["Init Containers:"]
    for c in pod.init_containers:
        if c.state in observed.DONE_STATES:
            reason = "Completed" if c.exit_code == 0 else "Error"
            state = f"Terminated ({reason}, exit code {c.exit_code})"
        elif c.state in observed.RUNNING_STATES:
            state = "Running"
        else:
            state = "Waiting (not started yet)"
        lines += [
            f"  {c.name}:",
            f"    Image:          {c.image}",
            f"    State:          {state}",
            f"    Started:        {c.started_at or '<never>'}",
            f"    Finished:       {c.finished_at or '<not yet>'}",
            f"    Podman ID:      {c.podman_id[:12]}",
        ]
    return lines
