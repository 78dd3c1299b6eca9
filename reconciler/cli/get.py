"""`reconciler get pods|deployments|hosts`: what runs where.

Hosts come from the repository's Host manifests (`-f PATH`, default the current directory);
pods are read from the hosts themselves (their podman labels), readiness from one run of their
probes. `-o wide|json|yaml` as in kubectl.
Exit: 0, 2 usage, 4 when a host could not be read (the rows of the other hosts are printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ruamel.yaml import YAML

from reconciler.cli import common, daemonclient, hoststatus, services, settings
from reconciler.cli import hpa as hpacli
from reconciler.cli import jobs as jobscli
from reconciler.cli import pvc as pvccli
from reconciler.controllers import deployment as deploymentctl
from reconciler.controllers import initsteps, lifecycle, pullfailures, sync
from reconciler.executor import protocol
from reconciler.manifests import loader
from reconciler.model import hoststate, quantity
from reconciler.plan import configwait
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

RESOURCES = {"pods": "pods", "pod": "pods", "po": "pods", "deployments": "deployments",
             "deployment": "deployments", "deploy": "deployments", "hosts": "hosts",
             "host": "hosts", "services": "services", "service": "services", "svc": "services",
             "endpoints": "endpoints", "ep": "endpoints"}  # fmt: skip

RESOURCES.update(hpacli.NAMES)  # get hpa
RESOURCES.update(jobscli.NAMES)  # get jobs
RESOURCES.update(pvccli.NAMES)  # get pvc


def register(subparsers: Any) -> None:
    get: argparse.ArgumentParser = subparsers.add_parser(
        "get", help="list pods, deployments or hosts", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    get.add_argument(
        "resource", choices=sorted(RESOURCES), metavar="RESOURCE",
        help="pods|deployments|hosts|services|endpoints|hpa|jobs|cronjobs|pvc",
    )  # fmt: skip
    get.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml"), default="table")
    add_common(get)
    get.set_defaults(handler=run_get)


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        dest="path",
        default=".",
        metavar="PATH",
        help="repository with the Host manifests (default: current directory)",
    )
    parser.add_argument("-n", "--namespace", default="", help="only this namespace")
    settings.add_arguments(parser)
    daemonclient.add_arguments(parser)


def observe(
    executor: protocol.HostExecutor, path: Path, *, detail: bool, readiness: bool = False
) -> tuple[loader.LoadResult, dict[str, hoststate.HostObservation]]:
    """`detail`: also the restart counts (one inspect per container), for the pod views only;
    `readiness`: one run of the probes (through the daemon when it reads the hosts)."""
    loaded = loader.load_repository(path)
    targets = sync.targets_of(loaded.state)
    return loaded, daemonclient.observe(executor, targets, detail=detail, readiness=readiness)


def pods_of(
    observations: dict[str, hoststate.HostObservation], namespace: str
) -> list[hoststate.ObservedPod]:
    pods = [p for o in observations.values() for p in o.pods]
    return sorted((p for p in pods if not namespace or p.namespace == namespace),
                  key=lambda p: (p.namespace, p.name))  # fmt: skip


def warn_unreachable(observations: dict[str, hoststate.HostObservation]) -> int:
    code = common.EXIT_OK
    for seen in observations.values():
        if not seen.reachable:
            print(f"reconciler: {seen.error}", file=sys.stderr)  # "host NAME: what, what to do"
            code = common.EXIT_INCOMPLETE
    return code


def pod_row(
    pod: hoststate.ObservedPod,
    address: str,
    restarts: Mapping[tuple[str, str, str], lifecycle.Record] | None = None,
) -> dict[str, Any]:
    """kubectl's row: READY containers ready (by their probes; running when not probed), STATUS
    the phase or CrashLoopBackOff while the daemon backs off a restart, RESTARTS the restarts
    the daemon made (its state database, when readable here) or Podman's own count."""
    records = [(restarts or {}).get((pod.namespace, pod.name, c.name)) for c in pod.containers]
    ready = sum(1 for c in pod.containers if (c.ready if c.ready is not None else
                                                c.state == "running"))  # fmt: skip
    status = str(pod.phase)
    if any(r is not None and r.backing_off for r in records):
        status = lifecycle.CRASH_LOOP
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


T = TypeVar("T")


def from_daemon(read: Callable[[storemod.Store], T], default: T) -> T:
    """What `read` finds in the daemon's state database when it is readable on this machine
    (the default state directory), else `default`: the one-shot views then do without it."""
    path = storemod.path_in(storemod.default_state_dir())
    if not path.exists():
        return default
    try:
        with storemod.Store(path, create=False) as store:
            return read(store)
    except storemod.StoreError:
        return default


def restart_records() -> dict[tuple[str, str, str], lifecycle.Record]:
    """The daemon's restart records (counts, back-offs), else none: Podman's own counts stand."""
    none: list[dict[str, Any]] = []
    rows = from_daemon(lambda store: store.restart_records(), none)
    return {record.key: record for record in lifecycle.records(rows)}


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in rows
    )


def emit(items: list[dict[str, Any]], output: str, columns: dict[str, str], kind: str) -> None:
    if output == "json":
        print(json.dumps({"kind": kind, "items": items}, indent=2))
    elif output == "yaml":
        buf = io.StringIO()
        YAML(typ="safe", pure=True).dump({"kind": kind, "items": items}, buf)
        sys.stdout.write(buf.getvalue())
    elif not items:
        print(f"No {kind.lower()} found.", file=sys.stderr)
    else:
        head = [title for title in columns]
        rows = [[_cell(item[key]) for key in columns.values()] for item in items]
        sys.stdout.write(table([head, *rows]))


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "<none>"
    return str(value) if value not in ("", None) else "<none>"


POD_COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "READY": "ready", "STATUS": "status",
               "RESTARTS": "restarts", "HOST": "host"}  # fmt: skip
POD_WIDE = {**POD_COLUMNS, "ADDRESS": "address", "REVISION": "revision", "IMAGES": "images"}
HOST_COLUMNS = {"NAME": "name", "STATUS": "status", "SINCE": "since", "ADDRESS": "address",
                "PODS": "pods", "CPU": "cpu", "MEMORY": "memory",
                "LB": "loadBalancer"}  # fmt: skip
HOST_WIDE = {**HOST_COLUMNS, "REASON": "reason", "USER": "user", "PORT": "port", "TAINTS": "taints",
             "ERROR": "error"}  # fmt: skip
DEPLOY_COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "READY": "ready",
                  "UP-TO-DATE": "upToDate", "AVAILABLE": "available"}  # fmt: skip
DEPLOY_WIDE = {**DEPLOY_COLUMNS, "HOSTS": "hosts"}


def run_get(args: argparse.Namespace) -> int:
    def body(executor: protocol.HostExecutor, path: Path) -> int:
        return get(executor, path, RESOURCES[args.resource], args.namespace, args.output)

    hosts = RESOURCES[args.resource] == "hosts"  # also each host's load balancer: dialled
    return common.run_guarded("get", args, body, via_daemon=not hosts)


def get(
    executor: protocol.HostExecutor, path: Path, resource: str, namespace: str, output: str
) -> int:
    """Print the rows of `resource` (pods, hosts or deployments) in `output`'s format.

    Only the pod list shows restart counts, so only it pays one inspect per container.
    """
    if resource == "hpa":  # the repository and the daemon's records: no host is read
        loaded = loader.load_repository(path)
        if not loaded.ok:
            raise sync.InvalidManifestsError(loaded)
        emit(hpacli.rows(loaded.state, namespace, hpacli.from_daemon()[0], time.time()), output,
             hpacli.WIDE if output == "wide" else hpacli.COLUMNS, "HorizontalPodAutoscalerList")
        return common.EXIT_OK
    if resource in ("jobs", "cronjobs"):  # the daemon's records; hosts for Jobs without one
        loaded = loader.load_repository(path)
        if not loaded.ok:
            raise sync.InvalidManifestsError(loaded)
        known, seen = jobscli.records(), {}
        if resource == "cronjobs":
            emit(jobscli.cron_rows(loaded.state, namespace, known), output,
                 jobscli.CRON_COLUMNS, "CronJobList")  # fmt: skip
            return common.EXIT_OK
        loaded = dataclasses.replace(loaded, state=jobscli.with_cron_jobs(loaded.state))
        if jobscli.missing(loaded.state, known):
            seen = executor.observe(sync.targets_of(loaded.state))
        emit(jobscli.rows(loaded.state, namespace, known, seen), output, jobscli.COLUMNS, "JobList")
        return warn_unreachable(seen)
    if resource == "pvc":  # the repository's claims and the claim volumes on the hosts
        loaded, seen = observe(executor, path, detail=False, readiness=False)
        if not loaded.ok:
            raise sync.InvalidManifestsError(loaded)
        emit(pvccli.rows(loaded.state, seen, namespace, time.time()), output,
             pvccli.WIDE if output == "wide" else pvccli.COLUMNS, "PersistentVolumeClaimList")
        return warn_unreachable(seen)
    wide = output == "wide"
    ready = resource in ("pods", "deployments", "services", "endpoints")
    loaded, observations = observe(executor, path, detail=resource == "pods", readiness=ready)
    addresses = {h.meta.name: h.address for h in loaded.state.hosts}
    if resource == "pods":
        records = restart_records()
        items = [pod_row(p, addresses.get(p.host, ""), records)
                 for p in pods_of(observations, namespace)]  # fmt: skip
        failing = from_daemon(storemod.Store.conditions, list[cond.Condition]())  # ErrImagePull
        items += pullfailures.rows(loaded.state, observations, failing, namespace)
        items += configwait.rows(loaded.state, observations, namespace)  # a ConfigMap missing
        emit(items, output, POD_WIDE if wide else POD_COLUMNS, "PodList")
    elif resource == "hosts":
        rows = _host_rows(loaded, observations)
        words = services.balancer_states(executor, sync.targets_of(loaded.state), observations,
                                         loaded.state)  # fmt: skip
        for row in rows:
            row["loadBalancer"] = words.get(row["name"], "Unknown")
        emit(rows, output, HOST_WIDE if wide else HOST_COLUMNS, "HostList")
    elif resource in ("services", "endpoints"):
        items = services.rows(loaded.state, observations, namespace)
        if resource == "services":
            emit(items, output, services.SERVICE_WIDE if wide else services.SERVICE_COLUMNS,
                 "ServiceList")  # fmt: skip
        else:
            emit(items, output, services.ENDPOINT_WIDE if wide else services.ENDPOINT_COLUMNS,
                 "EndpointsList")  # fmt: skip
    else:
        emit(_deployment_rows(loaded, observations, namespace), output,
             DEPLOY_WIDE if wide else DEPLOY_COLUMNS, "DeploymentList")  # fmt: skip
    return warn_unreachable(observations)


def _host_rows(loaded: loader.LoadResult, observations: dict[str, hoststate.HostObservation]
               ) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    health = from_daemon(hoststatus.recorded, dict[str, hoststatus.Condition]())
    for host in loaded.state.hosts:
        seen = observations.get(host.meta.name)
        ready = seen is not None and seen.reachable
        rows.append({
            "name": host.meta.name,
            **hoststatus.columns(host, seen, health),  # the daemon's condition, if recorded
            "address": host.address,
            "pods": len(seen.pods) if seen and ready else "?",
            "cpu": quantity.format_millicores(host.cpu_capacity),
            "memory": quantity.format_bytes(host.memory_capacity),
            "user": host.ssh_user,
            "port": host.ssh_port,
            "taints": [f"{t.key}={t.value}:{t.effect}" for t in host.taints],
            "error": seen.error if seen else "",
        })  # fmt: skip
    return rows


def _deployment_rows(loaded: loader.LoadResult, observations: dict[str, hoststate.HostObservation],
                     namespace: str) -> list[dict[str, Any]]:  # fmt: skip
    """kubectl's columns, counted by the Deployment controller's own rules: READY pods ready of
    `replicas`, UP-TO-DATE pods of the current template, AVAILABLE pods ready for
    minReadySeconds (old and new)."""
    if not loaded.ok:
        raise sync.InvalidManifestsError(loaded)
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


def age(seconds: float) -> str:
    """A duration the way kubectl shows ages: 45s, 5m, 3h, 2d."""
    whole = max(0, int(seconds))
    for unit, size, below in (("s", 1, 120), ("m", 60, 2 * 3600), ("h", 3600, 48 * 3600)):
        if whole < below:
            return f"{whole // size}{unit}"
    return f"{whole // 86400}d"
