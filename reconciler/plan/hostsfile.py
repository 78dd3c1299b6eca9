"""The /etc/hosts a pod gets while a headless Service exists: a file of the pod's own on its host,
bound at /etc/hosts, holding what Podman would have written (localhost, the pod's own name, the
Service names and hostAliases of `plan.discovery`) and, after `podips.MARKER`, the names of the
headless Services (`plan.headless`), which the daemon rewrites in place as pods come and go.
Runs in `pipeline.build_plan` after `discovery.attach`; not hashed (as the Service names); pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from reconciler.model import base, clusterips, hoststate, objects, podips

LABEL_HOSTS_FILE = f"{hoststate.LABEL_PREFIX}hosts-file"
"""On a pod whose /etc/hosts is the reconciler's file: its path below the state dir."""
LABEL_HOSTNAME = f"{hoststate.LABEL_PREFIX}hostname"
"""On a pod with `spec.hostname` and `spec.subdomain`: its name under a headless Service."""
LABEL_SUBDOMAIN = f"{hoststate.LABEL_PREFIX}subdomain"
TARGET = "/etc/hosts"
POD_ADDRESS = "10.0.2.100"
"""A rootless pod's own address under slirp4netns, where Podman points the pod's hostname."""
HOSTNAME_MAX = 63


def path(namespace: str, pod: str) -> str:
    """The pod's hosts file below the state dir, in the pod's own volume directory (removed with
    the pod; `.hosts` is no volume name, those are DNS labels)."""
    return f"volumes/{namespace}/{pod}/.hosts/hosts"


def hostname(run: hoststate.PodRun) -> str:
    """The pod's hostname: `spec.hostname`, else its name truncated as Kubernetes does."""
    return run.hostname or run.name[:HOSTNAME_MAX].rstrip("-.")


def static_lines(run: hoststate.PodRun, host_address: str) -> list[str]:
    """What Podman writes for the pod (without the host's own /etc/hosts lines): localhost,
    `host.containers.internal`, the pod's own name (with its FQDN when it has a subdomain, as
    the kubelet writes it), then the run's host aliases (hostAliases, Service names)."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    if clusterips.is_address(host_address):
        lines.append(f"{host_address}\thost.containers.internal")
    own = hostname(run)
    if run.subdomain:
        fqdn = f"{own}.{run.subdomain}.{run.namespace}.svc.{podips.CLUSTER_DOMAIN}"
        lines.append(f"{POD_ADDRESS}\t{fqdn} {own}")
    else:
        lines.append(f"{POD_ADDRESS}\t{own}")
    lines += [f"{address}\t{name}" for name, address in run.host_aliases]
    return lines


def initial(run: hoststate.PodRun, host_address: str, section: str = "") -> str:
    """The whole file as written when the pod is made: the static lines, the marker, and the
    headless names known then (`section`)."""
    head = f"# /etc/hosts of pod {run.namespace}/{run.name}, written by the reconciler"
    return "\n".join([head, *static_lines(run, host_address), podips.MARKER]) + "\n" + section


def with_file(
    run: hoststate.PodRun, host_address: str, section: str = ""
) -> hoststate.PodRun:
    """`run` with its hosts file written, bound read-only at /etc/hosts in every container, and
    labelled so that the daemon finds and rewrites it later."""
    relative = path(run.namespace, run.name)
    file = hoststate.HostFile(relative, initial(run, host_address, section).encode(), 0o644)
    mount = hoststate.Mount(hoststate.MountKind.BIND, relative, TARGET, read_only=True)

    def bound(container: hoststate.ContainerRun) -> hoststate.ContainerRun:
        kept = tuple(m for m in container.mounts if m.target != TARGET)
        return dataclasses.replace(container, mounts=(*kept, mount))

    labels = dict(run.labels)
    labels[LABEL_HOSTS_FILE] = relative
    if run.subdomain and run.hostname:  # as Kubernetes: a name of its own needs spec.hostname
        labels[LABEL_HOSTNAME] = run.hostname
        labels[LABEL_SUBDOMAIN] = run.subdomain
    return dataclasses.replace(
        run,
        files=(*run.files, file),
        containers=tuple(bound(c) for c in run.containers),
        init_containers=tuple(bound(c) for c in run.init_containers),
        labels=base.FrozenMap(labels),
    )


def wanted(state: objects.DesiredState) -> bool:
    """Pods get the reconciler's hosts file while some headless Service exists."""
    return bool(podips.headless(state.services))


def attach(
    runs: Iterable[hoststate.PodRun],
    desired: objects.DesiredState,
    sections: Mapping[str, str] | None = None,
) -> tuple[hoststate.PodRun, ...]:
    """`runs`, each with its hosts file (`with_file`) when a headless Service exists, with the
    headless names of its namespace from `sections` (`headless.sections`). A pod made without
    one keeps Podman's /etc/hosts until it is replaced (as it keeps its Service variables)."""
    items = tuple(runs)
    if not wanted(desired):
        return items
    addresses = {host.meta.name: host.address for host in desired.hosts}
    given = sections or {}
    return tuple(
        with_file(run, addresses.get(run.host, ""), given.get(run.namespace, ""))
        for run in items
    )
