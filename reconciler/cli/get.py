"""`reconciler get pods|deployments|hosts`: what runs where.

Hosts come from the repository's Host manifests (`-f PATH`, default the current directory);
pods are read from the hosts themselves (their podman labels), readiness from one run of their
probes. `-o wide|json|yaml` as in kubectl. A daemon running on this machine makes the pod and
Deployment rows when it can (the manifests are sent, its warm connections read the hosts; the
output is the same); else this process makes them.
Exit: 0, 2 usage, 4 when a host could not be read (the rows of the other hosts are printed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.cli import dryrunclient, lightsettings

if TYPE_CHECKING:
    from reconciler.controllers import backoff
    from reconciler.executor import protocol
    from reconciler.manifests import loader
    from reconciler.model import hoststate
    from reconciler.state import store as storemod

RESOURCES = {"pods": "pods", "pod": "pods", "po": "pods", "deployments": "deployments",
             "deployment": "deployments", "deploy": "deployments", "hosts": "hosts",
             "host": "hosts", "services": "services", "service": "services", "svc": "services",
             "endpoints": "endpoints", "ep": "endpoints"}  # fmt: skip
RESOURCES.update({"hpa": "hpa", "horizontalpodautoscaler": "hpa",
                  "horizontalpodautoscalers": "hpa"})  # hpacli.NAMES (a test keeps them equal)
RESOURCES.update({"jobs": "jobs", "job": "jobs", "cronjobs": "cronjobs", "cronjob": "cronjobs",
                  "cj": "cronjobs"})  # jobscli.NAMES
RESOURCES.update({"pvc": "pvc", "persistentvolumeclaim": "pvc",
                  "persistentvolumeclaims": "pvc"})  # pvccli.NAMES
ASKED = ("pods", "deployments")  # what the daemon answers whole (`web.getrows`)


def register(subparsers: Any) -> None:
    get: argparse.ArgumentParser = subparsers.add_parser(
        "get", help="list pods, deployments or hosts", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    get.add_argument(
        "resource", choices=sorted(RESOURCES), metavar="RESOURCE",
        help="pods|deployments|hosts|services|endpoints|hpa|jobs|cronjobs|pvc",
    )  # fmt: skip
    get.add_argument("name", nargs="?", default="", metavar="NAME",
                     help="only the object of this name (kubectl's get pods NAME)")  # fmt: skip
    get.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml"), default="table")
    get.add_argument("-A", "--all-namespaces", action="store_true",
                     help="every namespace (the default without -n)")  # fmt: skip
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
    lightsettings.add_settings_arguments(parser)  # settings.add_arguments, without its imports
    lightsettings.add_daemon_arguments(parser)  # daemonclient.add_arguments


def observe(
    executor: protocol.HostExecutor, path: Path, *, detail: bool, readiness: bool = False
) -> tuple[loader.LoadResult, dict[str, hoststate.HostObservation]]:
    """`detail`: also the restart counts (one inspect per container), for the pod views only;
    `readiness`: one run of the probes (through the daemon when it reads the hosts)."""
    from reconciler.cli import daemonclient  # noqa: PLC0415 (the quick path never needs it)
    from reconciler.controllers import sync  # noqa: PLC0415
    from reconciler.manifests import loader  # noqa: PLC0415

    loaded = loader.load_repository(path)
    targets = sync.targets_of(loaded.state)
    return loaded, daemonclient.observe(executor, targets, detail=detail, readiness=readiness)


def pods_of(
    observations: dict[str, hoststate.HostObservation], namespace: str
) -> list[hoststate.ObservedPod]:
    from reconciler.web import getrows  # noqa: PLC0415 (the rows the daemon makes too)

    return getrows.pods_of(observations, namespace)


def warn_unreachable(observations: dict[str, hoststate.HostObservation]) -> int:
    from reconciler.web import getrows  # noqa: PLC0415

    lines, code = getrows.unreachable(observations)
    sys.stderr.write(lines)  # "reconciler: host NAME: what, what to do"
    return code


def pod_row(
    pod: hoststate.ObservedPod,
    address: str,
    restarts: Mapping[tuple[str, str, str], backoff.Record] | None = None,
) -> dict[str, Any]:
    """`web.getrows.pod_row`: kubectl's row of one pod."""
    from reconciler.web import getrows  # noqa: PLC0415

    return getrows.pod_row(pod, address, restarts)


T = TypeVar("T")


def state_file() -> Path:
    """The daemon's state database on this machine (the default state directory)."""
    from reconciler.state import store as storemod  # noqa: PLC0415

    return storemod.path_in(storemod.default_state_dir())


def from_daemon(read: Callable[[storemod.Store], T], default: T) -> T:
    """What `read` finds in the daemon's state database when it is readable on this machine
    (the default state directory), else `default`: the one-shot views then do without it."""
    from reconciler.web import getrows  # noqa: PLC0415

    return getrows.from_store(state_file(), read, default)


def restart_records() -> dict[tuple[str, str, str], backoff.Record]:
    """The daemon's restart records (counts, back-offs), else none: Podman's own counts stand."""
    from reconciler.web import getrows  # noqa: PLC0415

    return getrows.restart_records(state_file())


def table(rows: Sequence[Sequence[str]]) -> str:
    from reconciler.web import getrows  # noqa: PLC0415

    return getrows.table(rows)


def emit(items: list[dict[str, Any]], output: str, columns: dict[str, str], kind: str) -> None:
    from reconciler.web import getrows  # noqa: PLC0415

    stdout, stderr = getrows.render(items, output, columns, kind)
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)


HOST_COLUMNS = {"NAME": "name", "STATUS": "status", "SINCE": "since", "ADDRESS": "address",
                "PODS": "pods", "CPU": "cpu", "MEMORY": "memory",
                "LB": "loadBalancer"}  # fmt: skip
HOST_WIDE = {**HOST_COLUMNS, "REASON": "reason", "USER": "user", "PORT": "port", "TAINTS": "taints",
             "ERROR": "error"}  # fmt: skip


def run_get(args: argparse.Namespace) -> int:
    """The list, or with NAME only that object's rows (`getname`); -A: every namespace."""
    if args.all_namespaces:
        args.namespace = ""
    if not args.name:
        return _run_list(args)
    from reconciler.cli import getname  # noqa: PLC0415

    return getname.run(lambda: _run_list(args), RESOURCES[args.resource], args.name, args.output)


def _run_list(args: argparse.Namespace) -> int:
    """Pods and Deployments: made by the daemon when it can answer as this process would
    (POST /v1/diff, command "get"), else here, as the other views."""
    resource = RESOURCES[args.resource]
    if resource in ASKED:
        chosen = lightsettings.resolve(args) or _complete_settings(args)
        if chosen is not None and chosen.where is not None:
            answer = dryrunclient.get(Path(args.path), args.path, resource, args.namespace,
                                      args.output, where=chosen.where)  # fmt: skip
            if answer is not None:
                sys.stdout.write(answer.stdout)
                sys.stderr.write(answer.stderr)
                return answer.code
    return run_here(args)


def _complete_settings(args: argparse.Namespace) -> lightsettings.DryRunSettings | None:
    from reconciler.cli import diff  # noqa: PLC0415 (a config file the quick reader leaves)

    return diff.complete_settings(args)


def run_here(args: argparse.Namespace) -> int:
    """The rows made in this process (the hosts read through the daemon when it can)."""
    from reconciler.cli import common  # noqa: PLC0415 (only when made here)

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
    from reconciler.cli import services  # noqa: PLC0415
    from reconciler.controllers import sync  # noqa: PLC0415
    from reconciler.web import getrows  # noqa: PLC0415

    if resource in ("hpa", "jobs", "cronjobs", "pvc"):
        return _records_view(executor, path, resource, namespace, output)
    wide = output == "wide"
    ready = resource in ("pods", "deployments", "services", "endpoints")
    loaded, observations = observe(executor, path, detail=resource == "pods", readiness=ready)
    if resource in ASKED:  # as the daemon makes them (`web.getrows`)
        try:
            made = getrows.view(resource, loaded, observations, namespace, output,
                                state=state_file())
        except getrows.InvalidError as exc:
            raise sync.InvalidManifestsError(exc.loaded) from None
        sys.stdout.write(made.stdout)
        sys.stderr.write(made.stderr)
        return made.code
    if resource == "hosts":
        rows = _host_rows(loaded, observations)
        words = services.balancer_states(executor, sync.targets_of(loaded.state), observations,
                                         loaded.state)  # fmt: skip
        for row in rows:
            row["loadBalancer"] = words.get(row["name"], "Unknown")
        emit(rows, output, HOST_WIDE if wide else HOST_COLUMNS, "HostList")
    else:
        items = services.rows(loaded.state, observations, namespace)
        if resource == "services":
            emit(items, output, services.SERVICE_WIDE if wide else services.SERVICE_COLUMNS,
                 "ServiceList")  # fmt: skip
        else:
            emit(items, output, services.ENDPOINT_WIDE if wide else services.ENDPOINT_COLUMNS,
                 "EndpointsList")  # fmt: skip
    return warn_unreachable(observations)


def _records_view(
    executor: protocol.HostExecutor, path: Path, resource: str, namespace: str, output: str
) -> int:
    """hpa, jobs, cronjobs, pvc: the repository, the daemon's records, the hosts if need be."""
    import dataclasses  # noqa: PLC0415
    import time  # noqa: PLC0415

    from reconciler.cli import hpa as hpacli  # noqa: PLC0415
    from reconciler.cli import jobs as jobscli  # noqa: PLC0415
    from reconciler.cli import pvc as pvccli  # noqa: PLC0415
    from reconciler.controllers import sync  # noqa: PLC0415
    from reconciler.manifests import loader  # noqa: PLC0415

    if resource == "hpa":  # the repository and the daemon's records: no host is read
        loaded = loader.load_repository(path)
        if not loaded.ok:
            raise sync.InvalidManifestsError(loaded)
        emit(hpacli.rows(loaded.state, namespace, hpacli.from_daemon()[0], time.time()), output,
             hpacli.WIDE if output == "wide" else hpacli.COLUMNS, "HorizontalPodAutoscalerList")
        return EXIT_OK
    if resource in ("jobs", "cronjobs"):  # the daemon's records; hosts for Jobs without one
        loaded = loader.load_repository(path)
        if not loaded.ok:
            raise sync.InvalidManifestsError(loaded)
        known, seen = jobscli.records(), {}
        if resource == "cronjobs":
            emit(jobscli.cron_rows(loaded.state, namespace, known), output,
                 jobscli.CRON_COLUMNS, "CronJobList")  # fmt: skip
            return EXIT_OK
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
    raise ValueError(f"get {resource}: not a records view")


EXIT_OK = 0  # common.EXIT_OK


def _host_rows(loaded: loader.LoadResult, observations: dict[str, hoststate.HostObservation]
               ) -> list[dict[str, Any]]:  # fmt: skip
    from reconciler.cli import hoststatus  # noqa: PLC0415
    from reconciler.model import quantity  # noqa: PLC0415

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


def age(seconds: float) -> str:
    """A duration the way kubectl shows ages: 45s, 5m, 3h, 2d."""
    whole = max(0, int(seconds))
    for unit, size, below in (("s", 1, 120), ("m", 60, 2 * 3600), ("h", 3600, 48 * 3600)):
        if whole < below:
            return f"{whole // size}{unit}"
    return f"{whole // 86400}d"
