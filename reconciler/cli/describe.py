"""`reconciler describe pod|service|hpa|deployment NAME`: one object in detail, kubectl style.

A pod: its containers with their state, readiness and probes (each probe run once now, with its
result), then `Events:`: what Podman recorded about the pod in the last 24 hours, and, when the
daemon's state database is readable here, what the daemon recorded (Unhealthy, BackOff, Started,
Killing, ...). A Service: its ports, endpoints (Ready pods, readiness from one run of their
probes) and what each host's load balancer reports for it, then the daemon's events.
An HPA: its target, bounds, metrics and last decisions, from the daemon's records.
Exit: 0, 1 not found, 2 usage, 4 when a host could not be read.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.cli import common, get, services, unscheduled
from reconciler.cli import hpa as hpacli
from reconciler.controllers import initsteps, manager, pullfailures, sync
from reconciler.controllers import prober as proberctl
from reconciler.executor import errors, protocol
from reconciler.model import hoststate, objects, workloads
from reconciler.plan import configwait
from reconciler.state import conditions as cond

Results = Mapping[str, list[tuple[hoststate.ProbeKind, hoststate.ProbeResult, float]]]


def register(subparsers: Any) -> None:
    describe: argparse.ArgumentParser = subparsers.add_parser(
        "describe", help="show one pod, Service or HPA in detail", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    describe.add_argument(
        "kind", choices=("pod", "hpa", "service", "svc", "deployment", "deployments", "deploy")
    )
    describe.add_argument("name")
    get.add_common(describe)
    describe.set_defaults(handler=run_describe)


EVENTS_SINCE = 24 * 3600
"""How far back `describe` reads a pod's events, in seconds."""
EVENTS_SHOWN = 50
"""The most recent events `describe` lists; earlier ones are counted."""


def run_describe(args: argparse.Namespace) -> int:
    def body(executor: protocol.HostExecutor, path: Path) -> int:
        if args.kind == "hpa":  # the repository and the daemon's records: no host is read
            text = hpacli.describe(sync.load(path).state, args.name, args.namespace)
            if text is None:
                return common.fail("describe", f'hpa "{args.name}" not found', 1)
            sys.stdout.write(text)
            return common.EXIT_OK
        if args.kind in ("service", "svc"):
            return describe_service(executor, path, args.name, args.namespace)
        if args.kind.startswith("deploy"):
            from reconciler.cli import describedeploy  # noqa: PLC0415 (it imports this module)

            return describedeploy.run(executor, path, args.name, args.namespace)
        return describe(executor, path, args.name, args.namespace)

    return common.run_guarded("describe", args, body)


def describe(executor: protocol.HostExecutor, path: Path, name: str, namespace: str) -> int:
    """Print each pod called `name` (in `namespace`, if given) with its recent events.

    Events that cannot be read are named as unavailable; they never change the exit code.
    """
    loaded, observations = get.observe(executor, path, detail=True)
    matches = [p for p in get.pods_of(observations, namespace) if p.name == name]
    code = get.warn_unreachable(observations)
    if not matches and _describe_not_pulled(loaded.state, observations, name, namespace):
        return code
    if not matches and _describe_waiting(loaded.state, observations, name, namespace):
        return code
    if not matches and unscheduled.describe(loaded.state, observations, name, namespace):
        return code
    if not matches:
        where = f" in namespace {namespace}" if namespace else ""
        return common.fail("describe", f'pod "{name}" not found{where}', 1)
    targets = {t.name: t for t in sync.targets_of(loaded.state)}
    prober = proberctl.Prober(executor)
    try:
        probed = prober.probe_once(observations, targets)
        results = {c.podman_id: prober.last_results(p.host, c.podman_id)
                   for p in matches for c in p.containers}  # fmt: skip
    finally:
        prober.stop()
    now = time.time()
    daemon_events = _daemon_events()
    for pod in get.pods_of(probed, namespace):
        if pod.name != name:
            continue
        target = targets[pod.host]
        events, problem = _pod_events(executor, target, pod)
        mine = [e for e in daemon_events if e.object == f"Pod/{pod.namespace}/{pod.name}"]
        sys.stdout.write(describe_text(pod, target.address, results, now))
        sys.stdout.write(events_text(events, problem, now, mine))
    return code


def _describe_not_pulled(
    desired: objects.DesiredState,
    observations: dict[str, hoststate.HostObservation],
    name: str,
    namespace: str,
) -> bool:
    """A desired pod on no host because its pull failed (the daemon's records): shown, True."""
    failing = get.from_daemon(lambda store: store.conditions(), list[cond.Condition]())
    rows = [r for r in pullfailures.rows(desired, observations, failing, namespace)
            if r["name"] == name]  # fmt: skip
    events = _daemon_events() if rows else []
    for row in rows:
        mine = [e for e in events if e.object == f"Pod/{row['namespace']}/{name}"]
        sys.stdout.write(pullfailures.describe_text(row))
        sys.stdout.write(events_text([], "", time.time(), mine))
    return bool(rows)


def _describe_waiting(
    desired: objects.DesiredState,
    observations: dict[str, hoststate.HostObservation],
    name: str,
    namespace: str,
) -> bool:
    """A desired pod on no host because a ConfigMap, Secret or claim it uses is missing."""
    rows = [r for r in configwait.rows(desired, observations, namespace) if r["name"] == name]
    for row in rows:
        sys.stdout.write(configwait.describe_text(row))
    return bool(rows)


def describe_service(
    executor: protocol.HostExecutor, path: Path, name: str, namespace: str
) -> int:
    """Print each Service called `name` (in `namespace`, if given): ports, endpoints (readiness
    from one run of the pods' probes) and each host's load balancer for it, then its events."""
    loaded, observations = get.observe(executor, path, detail=False)
    matches = [s for s in loaded.state.services
               if s.meta.name == name and namespace in ("", s.meta.namespace)]  # fmt: skip
    code = get.warn_unreachable(observations)
    if not matches:
        where = f" in namespace {namespace}" if namespace else ""
        return common.fail("describe", f'service "{name}" not found{where}', 1)
    targets = {t.name: t for t in sync.targets_of(loaded.state)}
    observations = manager.readiness_once(executor, observations, targets)
    reachable = [t for t in targets.values() if observations[t.name].reachable]
    statuses = executor.lb_status(reachable) if reachable else {}
    now = time.time()
    daemon_events = _daemon_events()
    for service in matches:
        key = f"Service/{service.meta.namespace}/{service.meta.name}"
        sys.stdout.write(services.describe_text(loaded.state, service, observations, statuses))
        mine = [e for e in daemon_events if e.object == key]
        sys.stdout.write(events_text([], "", now, mine, subject="service"))
    return code


def _daemon_events() -> list[cond.Event]:
    """The daemon's recent events when its state database is readable here, else none."""
    return get.from_daemon(lambda store: store.events(limit=500), [])


def _pod_events(
    executor: protocol.HostExecutor, target: hoststate.HostTarget, pod: hoststate.ObservedPod
) -> tuple[list[hoststate.PodEvent], str]:
    """The pod's recent events, or none and why they could not be read."""
    try:
        return executor.events(target, pod, EVENTS_SINCE), ""
    except errors.ExecutorError as exc:
        return [], str(exc)


def describe_text(
    pod: hoststate.ObservedPod, address: str, results: Results | None = None, now: float = 0.0
) -> str:
    own = {k: v for k, v in pod.labels.items() if not k.startswith(hoststate.LABEL_PREFIX)}
    lines = [
        f"Name:         {pod.name}",
        f"Namespace:    {pod.namespace}",
        f"Host:         {pod.host}/{address}",
        f"Owner:        {pod.owner or '<none>'}",
        f"Revision:     {pod.revision or '<none>'}",
        f"Status:       {pod.phase}",
        f"Created:      {pod.created_at or '<unknown>'}",
        f"Podman ID:    {pod.podman_id[:12]}",
        "Labels:       " + (", ".join(f"{k}={v}" for k, v in sorted(own.items())) or "<none>"),
        *initsteps.describe_lines(pod),  # initContainers, in their order
        "Containers:",
    ]
    for c in pod.containers:
        lines += [
            f"  {c.name}:",
            f"    Image:          {c.image}",
            f"    State:          {c.state}"
            + (f" (exit code {c.exit_code})" if c.state == "exited" else ""),
            f"    Started:        {c.started_at or '<never>'}",
            f"    Ready:          {_ready(c)}",
            f"    Restart Count:  {'<unknown>' if c.restart_count is None else c.restart_count}",
            f"    Podman ID:      {c.podman_id[:12]}",
        ]
        for item in c.probes:
            lines.append(f"    {item.kind.value.capitalize() + ':':<15} {probe_text(item.probe)}")
        for kind, result, when in (results or {}).get(c.podman_id, [])[-3:]:
            verdict = "passed" if result.ok else "failed"
            lines.append(f"    Last {kind.value} probe: {verdict}: {result.message} "
                         f"({get.age(now - when)} ago)")  # fmt: skip
    return "\n".join(lines) + "\n"


def _ready(container: hoststate.ObservedContainer) -> str:
    if container.ready is None:
        return str(container.state == "running")
    return str(container.ready)


def probe_text(probe: workloads.Probe) -> str:
    """As kubectl prints a probe: `http-get :8080/ready delay=0s timeout=1s period=10s
    #success=1 #failure=3`."""
    if probe.handler is workloads.ProbeHandler.HTTP_GET:
        action = f"http-get :{probe.port}{probe.path}"
    elif probe.handler is workloads.ProbeHandler.TCP_SOCKET:
        action = f"tcp-socket :{probe.port}"
    else:
        action = "exec [" + " ".join(probe.command) + "]"
    return (f"{action} delay={probe.initial_delay_seconds}s timeout={probe.timeout_seconds}s "
            f"period={probe.period_seconds}s #success={probe.success_threshold} "
            f"#failure={probe.failure_threshold}")  # fmt: skip


def events_text(
    events: Sequence[hoststate.PodEvent],
    problem: str,
    now: float,
    daemon: Sequence[cond.Event] = (),
    subject: str = "pod",
) -> str:
    """The `Events:` section, kubectl style: the most recent events, oldest first: Podman's
    (create, start, died...) and the daemon's (Unhealthy, BackOff, Started, Killing...)."""
    rows_by_time = [
        (e.time, [get.age(now - e.time), e.action, _event_object(e), _event_message(e)])
        for e in events
    ] + [(e.time, [get.age(now - e.time), e.reason, subject, e.message]) for e in daemon]
    rows_by_time.sort(key=lambda item: item[0])
    if problem and not daemon:
        return f"Events:       <unavailable: {problem}>\n"
    if not rows_by_time:
        return "Events:       <none>\n"
    shown = rows_by_time[-EVENTS_SHOWN:]
    rows = [["AGE", "EVENT", "OBJECT", "MESSAGE"], *(row for _, row in shown)]
    earlier = len(rows_by_time) - len(shown)
    note = [f"  ({earlier} earlier events not shown)\n"] if earlier else []
    if problem:
        note.append(f"  (Podman's events unavailable: {problem})\n")
    return "".join(["Events:\n", *note,
                    *("  " + line for line in get.table(rows).splitlines(True))])  # fmt: skip


def _event_object(event: hoststate.PodEvent) -> str:
    if event.kind is hoststate.EventObject.POD:
        return "pod"
    return f"container {event.name}"


def _event_message(event: hoststate.PodEvent) -> str:
    if event.exit_code is not None:
        return f"exit code {event.exit_code}"
    if event.action == "create" and event.image:
        return f"image {event.image}"
    return ""
