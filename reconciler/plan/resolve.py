"""Resolution of a desired pod into what podman needs, apart from the host: containers with env
values, mounts, limits and pull policy; published ports; files and podman volumes. Runs in
`pipeline.build_plan` after `expand` and before scheduling (a pod that cannot be resolved is not
placed); `podrun.build` adds the host, the labels and the spec hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import hoststate, objects, registryauth, security, workloads
from reconciler.plan import env, expand, labels, podfields, pullsecrets, refs, volumes


@dataclass(frozen=True)
class Policy:
    """What the operator allows beyond the manifests. `host_path_allow`: absolute path prefixes
    a hostPath volume may use; empty (the default) refuses every hostPath."""

    host_path_allow: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResolvedPod:
    """A desired pod with every reference resolved; secret values are `Sensitive` or in secret
    `HostFile`s, so the repr shows none."""

    pod: expand.DesiredPod
    containers: tuple[hoststate.ContainerRun, ...]
    ports: tuple[hoststate.PortMapping, ...] = ()
    files: tuple[hoststate.HostFile, ...] = ()
    volumes: tuple[str, ...] = ()
    pull_credentials: tuple[registryauth.RegistryCredential, ...] = ()
    init_containers: tuple[hoststate.ContainerRun, ...] = ()  # run before `containers`


def spec_path(pod: expand.DesiredPod) -> str:
    """Where the pod spec sits in its manifest, for error paths."""
    return "spec.template.spec" if pod.owner else "spec"


def resolve(pod: expand.DesiredPod, desired: objects.DesiredState, policy: Policy) -> ResolvedPod:
    """Raises `refs.ResolveError` naming the field if a reference is missing or not allowed."""
    _check_labels(pod)
    prefix = spec_path(pod)
    sources = refs.Sources(desired, pod.namespace)
    pod_volumes = volumes.pod_volumes(pod, prefix, sources, policy.host_path_allow)
    containers = tuple(
        _container(
            podfields.literal_env(container, pod),
            f"{prefix}.containers[{index}]",
            sources,
            pod_volumes,
            pod.spec,
        )
        for index, container in enumerate(pod.spec.containers)
    )
    inits = tuple(
        _container(
            podfields.literal_env(container, pod),
            f"{prefix}.initContainers[{index}]",
            sources,
            pod_volumes,
            pod.spec,
        )
        for index, container in enumerate(pod.spec.init_containers)
    )
    ports = tuple(
        hoststate.PortMapping(
            host_port=port.host_port,
            container_port=port.container_port,
            protocol=port.protocol.value.lower(),
            host_ip=port.host_ip,
        )
        for container in pod.spec.containers
        for port in container.ports
        if port.host_port is not None
    )
    logins = pullsecrets.credentials(pod.spec.image_pull_secrets, sources, prefix)
    return ResolvedPod(
        pod, containers, ports, pod_volumes.files, pod_volumes.podman_volumes, logins, inits
    )


def _container(
    container: workloads.Container,
    path: str,
    sources: refs.Sources,
    pod_volumes: volumes.PodVolumes,
    spec: workloads.PodSpec,
) -> hoststate.ContainerRun:
    values = env.container_env(container, sources, path)
    defined = dict(values)
    policy = container.image_pull_policy or default_pull_policy(container.image)
    return hoststate.ContainerRun(
        name=container.name,
        image=container.image,
        pull_policy=policy.value,
        command=tuple(env.expand_references(arg, defined) for arg in container.command),
        args=tuple(env.expand_references(arg, defined) for arg in container.args),
        working_dir=container.working_dir,
        env=values,
        mounts=volumes.container_mounts(container, pod_volumes, path, defined),
        cpu_limit_millis=container.resources.cpu_limit,
        memory_limit_bytes=container.resources.memory_limit,
        probes=container_probes(container),
        security=security.effective(spec.security_context, container.security_context),
        lifecycle=container.lifecycle,
    )


def container_probes(container: workloads.Container) -> tuple[hoststate.ContainerProbe, ...]:
    """The container's probes in the order the prober gates them: startup, liveness, readiness."""
    found = (
        (hoststate.ProbeKind.STARTUP, container.startup_probe),
        (hoststate.ProbeKind.LIVENESS, container.liveness_probe),
        (hoststate.ProbeKind.READINESS, container.readiness_probe),
    )
    return tuple(hoststate.ContainerProbe(kind, probe) for kind, probe in found if probe)


def default_pull_policy(image: str) -> workloads.PullPolicy:
    """Kubernetes' default: Always for an image without tag or with `:latest`, else IfNotPresent
    (an image pinned by digest only counts as tagged)."""
    name, at, _digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    _, colon, tag = last.partition(":")
    if not colon and at:
        return workloads.PullPolicy.IF_NOT_PRESENT
    if not colon or tag == "latest":
        return workloads.PullPolicy.ALWAYS
    return workloads.PullPolicy.IF_NOT_PRESENT


def _check_labels(pod: expand.DesiredPod) -> None:
    taken = sorted(set(pod.labels) & labels.RESERVED)
    if taken:
        where = "spec.template.metadata.labels" if pod.owner else "metadata.labels"
        raise refs.ResolveError(
            where,
            f"label {taken[0]!r} is set by the reconciler itself",
            "remove it from the manifest",
        )
