"""What `reconciler get pods|deployments` prints for manifests and an observation (stdout,
stderr, exit code), made in one place for both callers: the CLI reading the hosts itself
(`cli.get`) and the daemon answering a one-shot `get` (POST /v1/diff with command "get",
`web.dryrun`), so the two answers are the same bytes.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from reconciler.controllers import backoff, initsteps, pullfailures
from reconciler.controllers import deployment as deploymentctl
from reconciler.manifests import loader
from reconciler.model import hoststate
from reconciler.plan import configwait
from reconciler.state import conditions as cond
from reconciler.state import store as storemod
from reconciler.web import planout

OUTPUTS = ("table", "wide", "json", "yaml")
RESOURCES = ("pods", "deployments")  # what the daemon answers (the others need cli modules)
POD_COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "READY": "ready", "STATUS": "status",
               "RESTARTS": "restarts", "HOST": "host"}  # fmt: skip
POD_WIDE = {**POD_COLUMNS, "ADDRESS": "address", "REVISION": "revision", "IMAGES": "images"}
DEPLOY_COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "READY": "ready",
                  "UP-TO-DATE": "upToDate", "AVAILABLE": "available"}  # fmt: skip
DEPLOY_WIDE = {**DEPLOY_COLUMNS, "HOSTS": "hosts"}
Records = Mapping[tuple[str, str, str], backoff.Record]
T = TypeVar("T")


class InvalidError(Exception):
    """The manifests do not validate and the view needs them whole (`deployments`)."""

    def __init__(self, loaded: loader.LoadResult) -> None:
        super().__init__(f"{len(loaded.errors)} manifest error(s)")
        self.loaded = loaded


def from_store(path: Path, read: Callable[[storemod.Store], T], default: T) -> T:
    """What `read` finds in the state database at `path` when it is readable, else `default`."""
    if not path.exists():
        return default
    try:
        with storemod.Store(path, create=False) as store:
            return read(store)
    except storemod.StoreError:
        return default


def restart_records(path: Path) -> dict[tuple[str, str, str], backoff.Record]:
    """The daemon's restart records (counts, back-offs) at `path`, else none."""
    none: list[dict[str, Any]] = []
    rows = from_store(path, lambda store: store.restart_records(), none)
    return {record.key: record for record in backoff.records(rows)}


def conditions(path: Path) -> list[cond.Condition]:
    """The daemon's conditions at `path` (ErrImagePull...), else none."""
    return from_store(path, storemod.Store.conditions, list[cond.Condition]())


def pods_of(
    observations: Mapping[str, hoststate.HostObservation], namespace: str
) -> list[hoststate.ObservedPod]:
    pods = [p for o in observations.values() for p in o.pods]
    return sorted((p for p in pods if not namespace or p.namespace == namespace),
                  key=lambda p: (p.namespace, p.name))  # fmt: skip


ENDED = {hoststate.PodPhase.SUCCEEDED: "Completed", hoststate.PodPhase.FAILED: "Error"}
"""kubectl's STATUS of a pod whose containers all ended: its containers' terminated reason."""


def pod_row(pod: hoststate.ObservedPod, address: str, restarts: Records | None = None,
            ) -> dict[str, Any]:  # fmt: skip
    """kubectl's row: READY containers ready (by their probes; running when not probed), STATUS
    the phase, or as kubectl names a pod whose containers ended: Completed (all exited 0) or
    Error (one did not), or CrashLoopBackOff while the daemon backs off a restart, RESTARTS the
    restarts the daemon made (its state database, when readable) or Podman's own count."""
    records = [(restarts or {}).get((pod.namespace, pod.name, c.name)) for c in pod.containers]
    ready = sum(1 for c in pod.containers if (c.ready if c.ready is not None else
                                                c.state == "running"))  # fmt: skip
    status = ENDED.get(pod.phase, str(pod.phase))
    if any(r is not None and r.backing_off for r in records):
        status = backoff.CRASH_LOOP
    status = initsteps.status(pod, restarts) or status  # Init:0/2, Init:Error, ...
    counted = sum(
        max(r.restarts if r is not None else 0, c.restart_count or 0)
        for r, c in zip(records, pod.containers, strict=True)
    )
    return {
        "namespace": pod.namespace,
        "name": pod.name,
        "ready": f"{ready}/{len(pod.containers)}",
        "status": status,
        "restarts": counted,
        "host": pod.host,
        "address": address,
        "owner": pod.owner,
        "revision": pod.revision,
        "images": sorted({c.image for c in pod.containers}),
        "created": pod.created_at,
    }


def pod_rows(loaded: loader.LoadResult, observations: Mapping[str, hoststate.HostObservation],
             namespace: str, records: Records, failing: Sequence[cond.Condition],
             ) -> list[dict[str, Any]]:  # fmt: skip
    """The pods running, then the pods that cannot start (an image pull failing, a ConfigMap
    missing)."""
    addresses = {h.meta.name: h.address for h in loaded.state.hosts}
    seen = dict(observations)
    items = [pod_row(p, addresses.get(p.host, ""), records) for p in pods_of(seen, namespace)]
    items += pullfailures.rows(loaded.state, seen, list(failing), namespace)
    items += configwait.rows(loaded.state, seen, namespace)
    return items


def deployment_rows(loaded: loader.LoadResult,
                    observations: Mapping[str, hoststate.HostObservation],
                    namespace: str) -> list[dict[str, Any]]:  # fmt: skip
    """kubectl's columns, counted by the Deployment controller's own rules: READY pods ready of
    `replicas`, UP-TO-DATE pods of the current template, AVAILABLE pods ready for
    minReadySeconds (old and new). Raises InvalidError."""
    if not loaded.ok:
        raise InvalidError(loaded)
    pods = pods_of(observations, namespace)
    now = time.time()
    rows = []
    for deployment in loaded.state.deployments:
        ns, name = deployment.meta.namespace, deployment.meta.name
        if namespace and ns != namespace:
            continue
        owned = [p for p in pods if p.namespace == ns and p.owner == f"Deployment/{name}"]
        counts = deploymentctl.step(deployment, deployment.template, owned, now).counts
        rows.append({
            "namespace": ns, "name": name,
            "ready": f"{counts.ready}/{counts.replicas}",
            "upToDate": counts.updated,
            "available": counts.available,
            "hosts": sorted({p.host for p in owned}),
        })  # fmt: skip
    return rows


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in rows
    )


def render(items: list[dict[str, Any]], output: str, columns: Mapping[str, str],
           kind: str) -> tuple[str, str]:  # fmt: skip
    """(stdout, stderr) of `items` in `output`'s format, as kubectl prints them."""
    if output == "json":
        return json.dumps({"kind": kind, "items": items}, indent=2) + "\n", ""
    if output == "yaml":
        from ruamel.yaml import YAML  # noqa: PLC0415 (only -o yaml pays for it)

        buf = io.StringIO()
        YAML(typ="safe", pure=True).dump({"kind": kind, "items": items}, buf)
        return buf.getvalue(), ""
    if not items:
        return "", "No resources found.\n"  # kubectl's words
    head = list(columns)
    rows = [[_cell(item[key]) for key in columns.values()] for item in items]
    return table([head, *rows]), ""


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "<none>"
    return str(value) if value not in ("", None) else "<none>"


def unreachable(observations: Mapping[str, hoststate.HostObservation]) -> tuple[str, int]:
    """One stderr line per host that could not be read (the error names it), and the exit
    code: incomplete when there is one."""
    lines = [f"reconciler: {seen.error}\n" for seen in observations.values() if not seen.reachable]
    return "".join(lines), planout.EXIT_INCOMPLETE if lines else planout.EXIT_OK


def view(resource: str, loaded: loader.LoadResult,
         observations: Mapping[str, hoststate.HostObservation], namespace: str, output: str, *,
         state: Path) -> planout.Output:  # fmt: skip
    """`reconciler get RESOURCE -n NAMESPACE -o OUTPUT` (pods or deployments) for `loaded` and
    `observations`, with the daemon's records from the state database at `state`. Raises
    InvalidError."""
    wide = output == "wide"
    if resource == "pods":
        items = pod_rows(loaded, observations, namespace, restart_records(state),
                         conditions(state))  # fmt: skip
        stdout, stderr = render(items, output, POD_WIDE if wide else POD_COLUMNS, "PodList")
    elif resource == "deployments":
        stdout, stderr = render(deployment_rows(loaded, observations, namespace), output,
                                DEPLOY_WIDE if wide else DEPLOY_COLUMNS, "DeploymentList")
    else:
        raise ValueError(f"get {resource}: not a view of this module")
    lines, code = unreachable(observations)
    return planout.Output(stdout, stderr + lines, code)
