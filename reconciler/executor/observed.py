"""Pure reading of Podman's answers into `ObservedPod`s: identity from labels alone, phase from
container states. `hostops.observe` fetches the JSON (pod list, container list, inspects) and
hands it here; the planner then diffs the result against the desired pods.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.executor import hooklabels, podmanspec, probelabels
from reconciler.model import base, hoststate

log = logging.getLogger(__name__)

RUNNING_STATES = frozenset({"running", "paused", "stopping", "restarting"})
PENDING_STATES = frozenset({"created", "configured", "initialized"})
DONE_STATES = frozenset({"exited", "stopped"})


def managed_filter(extra: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """The libpod list filter for objects carrying the reconciler's managed-by label."""
    labels = {hoststate.MANAGED_BY: hoststate.MANAGER, **(extra or {})}
    return {"label": [f"{key}={value}" for key, value in labels.items()]}


def phase(containers: Iterable[hoststate.ObservedContainer]) -> hoststate.PodPhase:
    """Kubernetes-style pod phase from the app containers' podman states."""
    states = [(c.state, c.exit_code) for c in containers]
    if not states:
        return hoststate.PodPhase.PENDING
    if any(state in RUNNING_STATES for state, _ in states):
        return hoststate.PodPhase.RUNNING
    if any(state in PENDING_STATES for state, _ in states):
        return hoststate.PodPhase.PENDING
    if all(state in DONE_STATES for state, _ in states):
        if all(code == 0 for _, code in states):
            return hoststate.PodPhase.SUCCEEDED
        return hoststate.PodPhase.FAILED
    return hoststate.PodPhase.UNKNOWN


def _labels(entry: Mapping[str, Any]) -> dict[str, str]:
    raw = entry.get("Labels") or {}
    return {str(k): str(v) for k, v in raw.items()}


def _listed_start(entry: Mapping[str, Any], field: str = "StartedAt") -> str:
    """The list entry's StartedAt (or ExitedAt: Unix seconds; negative or 0 when never) as
    ISO 8601."""
    raw = entry.get(field)
    if not isinstance(raw, int | float) or raw <= 0:
        return ""
    return datetime.datetime.fromtimestamp(raw, datetime.UTC).isoformat()


def _listed_restarts(entry: Mapping[str, Any]) -> int | None:
    """Podman 4.x lists carry no restart count (newer ones carry `Restarts`): None = unknown."""
    raw = entry.get("Restarts")
    return int(raw) if isinstance(raw, int) else None


def container(
    entry: Mapping[str, Any], inspect: Mapping[str, Any] | None
) -> hoststate.ObservedContainer:
    """One app container from its list entry, refined by its inspect data when present.

    The list entry holds all the planner needs (labels, state, exit code); only the restart
    count may need the inspect.
    """
    labels = _labels(entry)
    names = entry.get("Names") or [""]
    state = str(entry.get("State", ""))
    exit_code = int(entry.get("ExitCode") or 0)
    restarts = _listed_restarts(entry)
    started = _listed_start(entry)
    finished = _listed_start(entry, "ExitedAt") if state in DONE_STATES else ""
    if inspect:
        status = inspect.get("State") or {}
        state = str(status.get("Status") or state)
        exit_code = int(status.get("ExitCode") or 0)
        started = str(status.get("StartedAt") or "")
        restarts = int(inspect.get("RestartCount") or 0)
        finished = str(status.get("FinishedAt") or "") if state in DONE_STATES else ""
    if started.startswith("0001-01-01"):
        started = ""
    if finished.startswith("0001-01-01"):
        finished = ""
    return hoststate.ObservedContainer(
        name=labels.get(hoststate.LABEL_CONTAINER, str(names[0])),
        podman_id=str(entry.get("Id", "")),
        image=str(entry.get("Image", "")),
        state=state,
        exit_code=exit_code,
        restart_count=restarts,
        started_at=started,
        finished_at=finished,
        probes=probelabels.decode_probes(labels.get(hoststate.LABEL_PROBES, ""), str(names[0])),
    )


def pod(
    host: str,
    entry: Mapping[str, Any],
    containers: Iterable[hoststate.ObservedContainer],
    init_containers: Iterable[hoststate.ObservedContainer] = (),
) -> hoststate.ObservedPod | None:
    """A managed pod from its list entry and its app containers; None without identity labels.

    A pod missing one of the containers its label lists (a create cut short by a crash) gets
    spec_hash "" so that any plan replaces it.
    """
    labels = _labels(entry)
    namespace = labels.get(hoststate.LABEL_NAMESPACE, "")
    name = labels.get(hoststate.LABEL_NAME, "")
    if labels.get(hoststate.MANAGED_BY) != hoststate.MANAGER or not namespace or not name:
        log.warning("host %s: pod %r has no reconciler identity labels; ignored",
                    host, entry.get("Name"))  # fmt: skip
        return None
    expected = [n for n in labels.get(podmanspec.LABEL_CONTAINERS, "").split(",") if n]
    order = {n: i for i, n in enumerate(expected)}
    found = sorted(containers, key=lambda c: (order.get(c.name, len(order)), c.name))
    spec_hash = labels.get(hoststate.LABEL_SPEC_HASH, "")
    if sorted(expected) != sorted(c.name for c in found):
        spec_hash = ""
    return hoststate.ObservedPod(
        namespace=namespace,
        name=name,
        host=host,
        podman_id=str(entry.get("Id", "")),
        spec_hash=spec_hash,
        owner=labels.get(hoststate.LABEL_OWNER, ""),
        revision=labels.get(hoststate.LABEL_REVISION, ""),
        labels=base.FrozenMap(labels),
        phase=_init_phase(tuple(init_containers), labels) or phase(found),
        containers=tuple(found),
        init_containers=tuple(init_containers),
        created_at=str(entry.get("Created", "")),
        probe_ports=probelabels.decode_ports(
            labels.get(hoststate.LABEL_PROBE_PORTS, ""), f"pod {namespace}/{name}"
        ),
    )


def _init_phase(
    inits: tuple[hoststate.ObservedContainer, ...], labels: Mapping[str, str]
) -> hoststate.PodPhase | None:
    """Pending while init containers have not all ended with 0; Failed when one failed and
    the pod's restartPolicy is Never (it is not retried); None once they all succeeded."""
    for init in inits:
        if init.state in DONE_STATES and init.exit_code == 0:
            continue
        failed = init.state in DONE_STATES and init.exit_code != 0
        if failed and labels.get(podmanspec.LABEL_RESTART_POLICY) == "Never":
            return hoststate.PodPhase.FAILED
        return hoststate.PodPhase.PENDING
    return None


def app_containers(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Managed, non-infra container list entries that belong to a pod."""
    return [
        e
        for e in entries
        if not e.get("IsInfra")
        and e.get("Pod")
        and _labels(e).get(hoststate.MANAGED_BY) == hoststate.MANAGER
    ]


def pods(
    host: str,
    pod_entries: Iterable[Mapping[str, Any]],
    container_entries: Iterable[Mapping[str, Any]],
    inspects: Mapping[str, Mapping[str, Any]],
) -> tuple[hoststate.ObservedPod, ...]:
    """Every managed pod of a host, sorted by (namespace, name)."""
    by_pod: dict[str, list[hoststate.ObservedContainer]] = {}
    inits: dict[str, list[tuple[int, hoststate.ObservedContainer]]] = {}
    for entry in app_containers(container_entries):
        observed = container(entry, inspects.get(str(entry.get("Id", ""))))
        index = hooklabels.init_index(_labels(entry))
        if index is not None:  # an init container: kept apart, in its order
            inits.setdefault(str(entry["Pod"]), []).append((index, observed))
            continue
        by_pod.setdefault(str(entry["Pod"]), []).append(observed)
    found = []
    for entry in pod_entries:
        pod_id = str(entry.get("Id", ""))
        ordered = [c for _, c in sorted(inits.get(pod_id, []), key=lambda item: item[0])]
        built = pod(host, entry, by_pod.get(pod_id, []), ordered)
        if built is not None:
            found.append(built)
    return tuple(sorted(found, key=lambda p: p.key))
