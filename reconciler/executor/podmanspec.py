"""Pure mapping from a `PodRun` to the JSON bodies of Podman's libpod API (pod, container and
volume create), plus the labels that make observed state readable back from Podman alone.

Used by `podcreate` right before the API calls; no I/O here, so every mapping is unit-tested.
Values go into JSON bodies, never into a command line: nothing here is ever seen by a shell.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from reconciler.executor import errors, hooklabels, probelabels
from reconciler.model import clusterips, hoststate, security

STATE_DIR = ".local/share/reconciler"
"""The host user's reconciler state directory, relative to its home: HostFiles live below it."""

LABEL_DIRS = f"{hoststate.LABEL_PREFIX}host-dirs"
"""JSON list of the state-dir subdirectories holding the pod's files: removed with the pod."""
LABEL_CONTAINERS = f"{hoststate.LABEL_PREFIX}containers"
"""Comma-separated container names: a pod missing one of them was left half-created."""

LABEL_RESTART_POLICY = f"{hoststate.LABEL_PREFIX}restart-policy"
"""The pod's Kubernetes restartPolicy: the reconciler restarts its containers (with back-off, see
`controllers.lifecycle`); Podman's own restart policy is "no" for every container. Not part of
the spec hash (the policy is hashed as `PodRun.restart_policy`)."""

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
CPU_PERIOD_US = 100_000
PODMAN_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
HOSTNAME_MAX = 63
HOST_ALIAS = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")
DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
CLUSTER_DOMAIN = "cluster.local"
POD_ADDRESS = "10.0.2.100"
"""A rootless pod's own address under slirp4netns (Podman 4's default network for rootless
containers): where its hostname resolves inside the pod."""


def _invalid(run: hoststate.PodRun, message: str) -> errors.InvalidRun:
    return errors.InvalidRun(run.host, run.podman_name, message)


def normal_relative(path: str) -> str:
    """`path` normalized; ValueError unless it stays inside its base (no `..`, not absolute)."""
    if not path or "\x00" in path or path.startswith("/"):
        raise ValueError(f"{path!r} must be a non-empty relative path")
    normal = posixpath.normpath(path)
    if normal in (".", "..") or normal.startswith("../"):
        raise ValueError(f"{path!r} leaves the reconciler state directory")
    return normal


def relative_path(run: hoststate.PodRun, path: str, what: str) -> str:
    """`normal_relative` for a path of `run`, as an `errors.InvalidRun`."""
    try:
        return normal_relative(path)
    except ValueError as exc:
        raise _invalid(run, f"{what} {exc}") from exc


def pod_name(namespace: str, name: str) -> str:
    """The podman pod name of a pod (same as `PodRun.podman_name`)."""
    return f"{namespace}_{name}"


def validate(run: hoststate.PodRun) -> None:
    """Refuse a run the executor cannot carry out faithfully (raises `errors.InvalidRun`)."""
    if run.restart_policy not in RESTART_POLICIES:
        raise _invalid(run, f"restartPolicy {run.restart_policy!r} is not one of "
                       f"{', '.join(RESTART_POLICIES)}")  # fmt: skip
    if not run.containers:
        raise _invalid(run, "a pod needs at least one container")
    every = (*run.init_containers, *run.containers)  # names unique across both, as Kubernetes
    names = [c.name for c in every]
    if len(set(names)) != len(names):
        raise _invalid(run, f"container names must be unique: {names}")
    podman_names = [run.podman_name, *(container_name(run, c) for c in every)]
    for name in [*podman_names, *run.volumes, *(c.volume for c in run.claims)]:
        if not PODMAN_NAME.fullmatch(name):
            raise _invalid(run, f"{name!r} is not a valid podman name (letters, digits, '_', "
                           "'.' and '-', starting with a letter or digit)")  # fmt: skip
    for alias, address in run.host_aliases:  # /etc/hosts lines: never anything but name and IP
        if not HOST_ALIAS.fullmatch(alias) or not clusterips.is_address(address):
            raise _invalid(run, f"host alias {alias!r} -> {address!r} is not a DNS name and "
                           "an IP address")  # fmt: skip
    for label in (run.hostname, run.subdomain):
        if label and not DNS_LABEL.fullmatch(label):
            raise _invalid(run, f"hostname or subdomain {label!r} is not a DNS label")
    for file in run.files:
        if "/" not in relative_path(run, file.path, "file path"):
            raise _invalid(run, f"file {file.path!r} must be in a directory of the pod's own "
                           "(the directory is removed with the pod)")  # fmt: skip
    for container in every:
        if container.pull_policy not in PULL_POLICIES:
            allowed = ", ".join(PULL_POLICIES)
            raise _invalid(run, f"container {container.name}: imagePullPolicy "
                           f"{container.pull_policy!r} is not one of {allowed}")  # fmt: skip
        for mount in container.mounts:
            if mount.sub_path:  # made on the host, then bound (`subpathdirs`)
                relative_path(run, mount.sub_path, f"container {container.name}: subPath")
            if mount.kind is hoststate.MountKind.BIND:
                relative_path(run, mount.source, f"container {container.name}: mount source")
            elif mount.kind is hoststate.MountKind.TMPFS:
                if mount.source and not mount.source.isdigit():
                    raise _invalid(run, f"tmpfs size {mount.source!r} is not a number of bytes")
            elif mount.kind is hoststate.MountKind.HOST_PATH:
                if not posixpath.isabs(mount.source) or "\x00" in mount.source:
                    raise _invalid(run, f"hostPath {mount.source!r} must be absolute")
            elif mount.kind is hoststate.MountKind.CLAIM:
                if mount.source not in {c.volume for c in run.claims}:
                    raise _invalid(run, f"container {container.name}: claim volume "
                                   f"{mount.source!r} is not among the pod's claims")  # fmt: skip
            elif mount.source not in run.volumes:
                raise _invalid(run, f"container {container.name}: volume {mount.source!r} is "
                               "not among the pod's volumes")  # fmt: skip


def file_dirs(run: hoststate.PodRun) -> tuple[str, ...]:
    """The directories (relative to the state dir) that hold the pod's files, sorted."""
    dirs = {posixpath.dirname(relative_path(run, f.path, "file path")) for f in run.files}
    return tuple(sorted(d for d in dirs if d))


def pod_labels(run: hoststate.PodRun) -> dict[str, str]:
    """Labels of the podman pod: the run's own, then the reconciler's (which win)."""
    labels = dict(run.labels)
    labels.update({
        hoststate.MANAGED_BY: hoststate.MANAGER,
        hoststate.LABEL_NAMESPACE: run.namespace,
        hoststate.LABEL_NAME: run.name,
        hoststate.LABEL_SPEC_HASH: run.spec_hash,
        hoststate.LABEL_OWNER: run.owner,
        LABEL_CONTAINERS: ",".join(c.name for c in run.containers),
        LABEL_RESTART_POLICY: run.restart_policy,
    })  # fmt: skip
    dirs = file_dirs(run)
    if dirs:
        labels[LABEL_DIRS] = json.dumps(dirs)
    return labels


def container_labels(run: hoststate.PodRun, container: hoststate.ContainerRun) -> dict[str, str]:
    labels = pod_labels(run)
    labels[hoststate.LABEL_CONTAINER] = container.name
    if container.probes:
        labels[hoststate.LABEL_PROBES] = probelabels.encode_probes(container.probes)
    hooks = hooklabels.encode(run, container)
    if hooks:
        labels[hooklabels.LABEL_HOOKS] = hooks
    return labels


def volume_labels(run: hoststate.PodRun) -> dict[str, str]:
    """Enough to find a pod's volumes again (managed-by, namespace, name)."""
    return {
        hoststate.MANAGED_BY: hoststate.MANAGER,
        hoststate.LABEL_NAMESPACE: run.namespace,
        hoststate.LABEL_NAME: run.name,
    }


def container_name(run: hoststate.PodRun, container: hoststate.ContainerRun) -> str:
    return f"{run.podman_name}_{container.name}"


def has_infra(run: hoststate.PodRun) -> bool:
    """Whether the podman pod gets an infra container.

    Only containers that share namespaces need one: a pod with a single container holds its
    hostname and published ports itself (`no_infra`), which saves a second container (conmon,
    runc create and start, about 0.2 CPU-s per pod) on every host. Several containers share the
    infra container's network and UTS namespaces, as in Kubernetes.
    """
    return len(run.containers) + len(run.init_containers) > 1


def _hostname(run: hoststate.PodRun) -> str:
    if run.hostname:  # spec.hostname
        return run.hostname
    return run.name[:HOSTNAME_MAX].rstrip("-.")  # as Kubernetes truncates it


def own_hosts_line(run: hoststate.PodRun) -> str:
    """The pod's own /etc/hosts entry with `spec.subdomain`, as the kubelet writes it
    (`ADDRESS FQDN HOSTNAME`, so that `hostname -f` prints the FQDN), as a `hostadd` item;
    "" without a subdomain. Podman 4 takes the names part as written (it splits at the first
    ':'); the address is the pod's own under rootless Podman's slirp4netns, the one Podman
    writes for the hostname itself."""
    if not run.subdomain:
        return ""
    hostname = _hostname(run)
    fqdn = f"{hostname}.{run.subdomain}.{run.namespace}.svc.{CLUSTER_DOMAIN}"
    return f"{fqdn} {hostname}:{POD_ADDRESS}"


def _portmappings(run: hoststate.PodRun) -> list[dict[str, Any]]:
    return [
        {
            "host_ip": port.host_ip,
            "host_port": port.host_port,
            "container_port": port.container_port,
            "protocol": port.protocol.lower(),
        }
        for port in (*run.ports, *run.published_ports, *run.probe_ports)  # probe: loopback
    ]


def _network(run: hoststate.PodRun) -> dict[str, Any]:
    """Hostname and published ports: on the pod's infra container, or on the only container."""
    network: dict[str, Any] = {"hostname": _hostname(run)}
    if run.ports or run.published_ports or run.probe_ports:
        network["portmappings"] = _portmappings(run)
    hostadd = [f"{name}:{address}" for name, address in run.host_aliases]
    own = own_hosts_line(run)
    if own:  # first, as the kubelet's line comes before the hostAliases
        hostadd.insert(0, own)
    if hostadd:  # hostAliases and Service names (plan.discovery), one /etc/hosts line each
        network["hostadd"] = hostadd
    return network


def pod_spec(run: hoststate.PodRun) -> dict[str, Any]:
    """Body of POST /libpod/pods/create: name, labels, and either the infra container's hostname
    and published ports or `no_infra` (see `has_infra`)."""
    spec: dict[str, Any] = {"name": run.podman_name, "labels": pod_labels(run)}
    if has_infra(run):
        spec.update(_network(run))
    else:
        spec["no_infra"] = True
    return spec


def _mount_specs(
    container: hoststate.ContainerRun, state_dir: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    for mount in container.mounts:
        if mount.kind in (hoststate.MountKind.VOLUME, hoststate.MountKind.CLAIM):
            options = ["ro"] if mount.read_only else []
            volumes.append({"Name": mount.source, "Dest": mount.target, "Options": options})
            continue
        if mount.kind is hoststate.MountKind.TMPFS:  # emptyDir medium Memory
            size = [f"size={mount.source}"] if mount.source else []
            options = [*size, "ro"] if mount.read_only else size
            mounts.append({"type": "tmpfs", "source": "tmpfs", "destination": mount.target,
                           "options": options})  # fmt: skip
            continue
        if mount.kind is hoststate.MountKind.BIND:
            source = posixpath.join(state_dir, posixpath.normpath(mount.source))
        else:
            source = mount.source
        options = ["rbind", "ro" if mount.read_only else "rw"]
        mounts.append(
            {"type": "bind", "source": source, "destination": mount.target, "options": options}
        )
    return mounts, volumes


def container_spec(
    run: hoststate.PodRun,
    container: hoststate.ContainerRun,
    state_dir: str,
    stop_timeout: int,
) -> dict[str, Any]:
    """Body of POST /libpod/containers/create (a SpecGenerator) for one container of the pod.

    The pod's terminationGracePeriodSeconds becomes each container's stop timeout (podman's pod
    stop then waits that long after SIGTERM); `stop_timeout` is the default when it is unset.

    Kubernetes semantics: `command` replaces the image ENTRYPOINT and `args` its CMD.
    `state_dir` is the absolute state directory on the host (bind sources are below it).
    """
    spec: dict[str, Any] = {
        "name": container_name(run, container),
        "pod": run.podman_name,
        "image": container.image,
        "labels": container_labels(run, container),
        "env": {  # Service variables first: the container's own env wins, as in Kubernetes
            key: str.__str__(value) for key, value in (*run.service_env, *container.env)
        },
        "restart_policy": "no",  # the reconciler restarts per LABEL_RESTART_POLICY
        "stop_timeout": (
            stop_timeout if run.termination_grace_seconds is None else run.termination_grace_seconds
        ),
        "terminal": False,
    }
    if not has_infra(run):
        spec.update(_network(run))
    if container.command:
        spec["entrypoint"] = list(container.command)
        spec["command"] = list(container.args)
    elif container.args:
        spec["command"] = list(container.args)
    if container.working_dir:
        spec["work_dir"] = container.working_dir
    unmade = next((m for m in container.mounts if m.sub_path), None)
    if unmade is not None:  # never the whole volume instead: `subpathdirs.bind` comes first
        raise _invalid(run, f"container {container.name}: subPath {unmade.sub_path!r} of "
                       f"volume {unmade.source} was not made on the host")  # fmt: skip
    mounts, volumes = _mount_specs(container, state_dir)
    if mounts:
        spec["mounts"] = mounts
    if volumes:
        spec["volumes"] = volumes
    limits: dict[str, Any] = {}
    if container.memory_limit_bytes is not None:
        limits["memory"] = {"limit": container.memory_limit_bytes}
    if container.cpu_limit_millis is not None:
        quota = max(1000, container.cpu_limit_millis * CPU_PERIOD_US // 1000)
        limits["cpu"] = {"quota": quota, "period": CPU_PERIOD_US}
    if limits:
        spec["resource_limits"] = limits
    spec.update(_security(container.security))
    return spec


def _security(settings: security.Effective) -> dict[str, Any]:
    """SpecGenerator fields of a container's `securityContext` (none when unset)."""
    spec: dict[str, Any] = {}
    if settings.user:
        spec["user"] = settings.user
    if settings.read_only_root:
        spec["read_only_filesystem"] = True
    if settings.no_new_privileges:
        spec["no_new_privileges"] = True
    if settings.cap_add:
        spec["cap_add"] = list(settings.cap_add)
    if settings.cap_drop:
        spec["cap_drop"] = list(settings.cap_drop)
    if settings.groups:  # fsGroup, supplementalGroups: `--group-add`
        spec["groups"] = [str(gid) for gid in settings.groups]
    return spec


def volume_spec(run: hoststate.PodRun, volume: str) -> dict[str, Any]:
    """Body of POST /libpod/volumes/create for one emptyDir volume of the pod."""
    return {"Name": volume, "Label": volume_labels(run), **volume_owner(run)}


def volume_owner(run: hoststate.PodRun) -> dict[str, Any]:
    """Volume create options giving a new volume to the pod's fsGroup (owner the container's
    root), which also keeps Podman from handing it to the first container's user at its first
    start; `executor.volumegroups` then makes it group-writable and setgid. {} without one."""
    if run.fs_group is None:
        return {}
    return {"Options": {"o": f"uid=0,gid={int(run.fs_group)}"}}


def images(run: hoststate.PodRun) -> list[tuple[str, str]]:
    """(image, pull policy) pairs the pod needs, each image once (Always wins), in order."""
    seen: dict[str, str] = {}
    for container in (*run.init_containers, *run.containers):
        previous = seen.get(container.image)
        if previous is None or container.pull_policy == "Always":
            seen[container.image] = container.pull_policy
    return list(seen.items())
