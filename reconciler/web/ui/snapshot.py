"""What the dashboard shows of the last reconcile that the store does not keep: pods (host, status,
restarts, age), Deployment counts, host requests against capacity and Service endpoints. The
daemon turns each sync's `sync.Prepared` into a small frozen `Snapshot` (no I/O) and keeps the
newest in a `Holder`; the pages read it from the HTTP threads.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.controllers import sync
from reconciler.model import hoststate, objects, workloads
from reconciler.plan import endpoints as endpointsmod
from reconciler.web.ui import html

log = logging.getLogger(__name__)
CRASH_LOOP = "CrashLoopBackOff"
PENDING = "Pending"
UNSCHEDULABLE = "Unschedulable"
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class PodRow:
    namespace: str
    name: str
    host: str  # "" when it is not placed
    status: str  # podman's phase (Running, Exited, ...), CrashLoopBackOff, Pending, Unschedulable
    ready: str  # "1/2": containers ready of all
    restarts: int
    created: float  # epoch seconds podman created it, 0 when it does not run (or unknown)
    owner: str  # "Deployment/web", "Job/x" or "" for a bare Pod
    message: str = ""  # why it is pending or unschedulable


@dataclass(frozen=True)
class DeploymentRow:
    namespace: str
    name: str
    desired: int
    updated: int
    ready: int
    available: int
    complete: bool
    failed: bool
    message: str


@dataclass(frozen=True)
class HostRow:
    name: str
    address: str
    reachable: bool
    error: str
    pods: int
    cpu_requested: int  # millicores of the pods placed here (their manifests' requests)
    cpu_capacity: int  # 0: not declared
    memory_requested: int  # bytes
    memory_capacity: int


@dataclass(frozen=True)
class ServiceRow:
    namespace: str
    name: str
    type: str
    ports: tuple[str, ...]  # "8000/TCP", "8000:30080/TCP"
    ready: tuple[str, ...]  # "198.18.0.11:42001 (web-0)"
    not_ready: tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    taken: float  # epoch seconds
    revision: str
    pods: tuple[PodRow, ...] = ()
    deployments: tuple[DeploymentRow, ...] = ()
    hosts: tuple[HostRow, ...] = ()
    services: tuple[ServiceRow, ...] = ()


def from_prepared(
    prepared: sync.Prepared, now: float | None = None, previous: Snapshot | None = None
) -> Snapshot:
    """The rows of one reconcile's view of the world (pure); the pods `previous` saw on a host
    that does not answer now are kept, `Unknown`."""
    now = time.time() if now is None else now
    state = prepared.load.state
    return Snapshot(
        taken=now,
        revision=prepared.result.revision,
        pods=_pods(prepared, previous),
        deployments=tuple(
            DeploymentRow(
                d.namespace,
                d.name,
                d.counts.replicas,
                d.counts.updated,
                d.counts.ready,
                d.counts.available,
                d.complete,
                d.failed,
                d.message,
            )
            for d in sorted(prepared.deployments, key=lambda d: (d.namespace, d.name))
        ),
        hosts=_hosts(prepared),
        services=_services(state, prepared.observations),
    )


def _pods(prepared: sync.Prepared, previous: Snapshot | None) -> tuple[PodRow, ...]:
    restarts = prepared.controllers.restarts if prepared.controllers is not None else None
    waiting = {w.key for w in prepared.waiting}
    rows: dict[tuple[str, str], PodRow] = {}
    for seen in prepared.observations.values():
        for pod in seen.pods:
            ready = sum(1 for c in pod.containers
                        if (c.ready if c.ready is not None else c.state == "running"))  # fmt: skip
            counted = sum(
                max(restarts.restart_count(pod.namespace, pod.name, c.name) if restarts else 0,
                    c.restart_count or 0)
                for c in pod.containers
            )  # fmt: skip
            status = CRASH_LOOP if pod.key in waiting else str(pod.phase)
            rows[pod.key] = PodRow(
                pod.namespace, pod.name, pod.host, status, f"{ready}/{len(pod.containers)}",
                counted, html.parse_time(pod.created_at) or 0.0, pod.owner,
            )  # fmt: skip
    silent = {o.host for o in prepared.unreachable}
    for run in prepared.result.runs:
        if (run.namespace, run.name) not in rows:
            status, why = PENDING, f"to be started on {run.host}"
            if run.host in silent:  # its pods there are not known: never "Pending"
                status, why = UNKNOWN, f"host {run.host} does not answer"
            rows[(run.namespace, run.name)] = PodRow(run.namespace, run.name, run.host, status,
                                   f"0/{len(run.containers)}", 0, 0.0, run.owner, why)  # fmt: skip
    for row in previous.pods if previous is not None else ():
        if row.host in silent and (row.namespace, row.name) not in rows:  # last seen there
            rows[(row.namespace, row.name)] = dataclasses.replace(
                row, status=UNKNOWN, message=f"host {row.host} does not answer"
            )
    for entry in prepared.result.unschedulable:
        namespace, _, name = entry.pod.partition("/")
        if (namespace, name) not in rows:
            rows[(namespace, name)] = PodRow(namespace, name, "", UNSCHEDULABLE, "0/0", 0, 0.0,
                                             "", entry.message)  # fmt: skip
    return tuple(rows[key] for key in sorted(rows))


def _specs(prepared: sync.Prepared) -> dict[tuple[str, str], workloads.PodSpec]:
    """(namespace, owner) -> the spec its pods run; bare Pods under (namespace, "Pod/name")."""
    state = prepared.load.state
    specs: dict[tuple[str, str], workloads.PodSpec] = {}
    for deployment in state.deployments:
        specs[(deployment.meta.namespace, f"Deployment/{deployment.meta.name}")] = (
            deployment.template.spec
        )
    for job in state.jobs:
        specs[(job.meta.namespace, f"Job/{job.meta.name}")] = job.template.spec
    for pod in state.pods:
        specs[(pod.meta.namespace, f"Pod/{pod.meta.name}")] = pod.spec
    return specs


def _hosts(prepared: sync.Prepared) -> tuple[HostRow, ...]:
    specs = _specs(prepared)
    cpu: dict[str, int] = {}
    memory: dict[str, int] = {}
    for run in prepared.result.runs:
        spec = specs.get((run.namespace, run.owner or f"Pod/{run.name}"))
        if spec is not None:
            cpu[run.host] = cpu.get(run.host, 0) + spec.cpu_request
            memory[run.host] = memory.get(run.host, 0) + spec.memory_request
    rows = []
    for host in prepared.load.state.hosts:
        name = host.meta.name
        seen = prepared.observations.get(name)
        rows.append(HostRow(
            name, host.address, seen is not None and seen.reachable,
            seen.error if seen is not None else "", len(seen.pods) if seen is not None else 0,
            cpu.get(name, 0), host.cpu_capacity, memory.get(name, 0), host.memory_capacity,
        ))  # fmt: skip
    return tuple(sorted(rows, key=lambda r: r.name))


def _services(
    state: objects.DesiredState, observations: Mapping[str, hoststate.HostObservation]
) -> tuple[ServiceRow, ...]:
    found: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for item in endpointsmod.endpoints(state, observations):
        ready, not_ready = found.setdefault((item.namespace, item.service), (set(), set()))
        for e in item.endpoints:
            (ready if e.ready else not_ready).add(f"{e.target} ({e.pod})")
    rows = []
    for service in state.services:
        key = (service.meta.namespace, service.meta.name)
        ready, not_ready = found.get(key, (set(), set()))
        ports = tuple(f"{p.port}:{p.node_port}/{p.protocol}" if p.node_port
                      else f"{p.port}/{p.protocol}" for p in service.ports)  # fmt: skip
        rows.append(ServiceRow(key[0], key[1], service.type, ports, tuple(sorted(ready)),
                               tuple(sorted(not_ready))))  # fmt: skip
    return tuple(sorted(rows, key=lambda r: (r.namespace, r.name)))


class Holder:
    """The newest snapshot, shared by the loop (writer) and the HTTP threads (readers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None

    def put(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._latest = snapshot

    def record(self, prepared: sync.Prepared) -> None:
        """The daemon's hook after each applied sync; never raises into the loop."""
        try:
            self.put(from_prepared(prepared, previous=self.get()))
        except Exception:  # a bug here must not stop a reconcile
            log.exception("building the dashboard snapshot failed")

    def get(self) -> Snapshot | None:
        with self._lock:
            return self._latest
