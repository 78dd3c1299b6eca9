"""The `PodRun` for a resolved pod bound to a host: labels and the spec hash. Runs in
`pipeline.build_plan` after scheduling; `diff.compute` then compares spec hashes.

The spec hash covers everything whose change needs the pod recreated: the containers (images,
commands, resolved env, mounts, limits), file contents, ports, podman volumes, restart policy, the
host and the labels, but not the revision label: a new commit that changes nothing keeps its pods.
It is the digest of per-part digests (`pod`, `container/<name>`, `files/<volume>`), also kept
in the `spec-parts` label so that a replacement can say which parts changed.

Secret values enter only as SHA-256 digests. The labels are readable only by the host user, who can
read the secret files and `podman inspect` the env anyway; `render` and `export` never show the
hash labels, since a low-entropy secret could be guessed from a digest in a CI log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from reconciler.model import base, hoststate, objects
from reconciler.plan import binding, hashing, labels, podfields, resolve


def build(
    resolved: resolve.ResolvedPod, host: str, revision: str, where: objects.Host | None = None
) -> hoststate.PodRun:
    """`where` is the Host object of `host`, for the env values that depend on it (fieldRef
    `status.hostIP`, resource limits not set); None leaves them empty."""
    pod = resolved.pod
    values = dict(sorted(pod.labels.items()))
    values.update(
        {
            hoststate.MANAGED_BY: hoststate.MANAGER,
            hoststate.LABEL_NAMESPACE: pod.namespace,
            hoststate.LABEL_NAME: pod.name,
            hoststate.LABEL_OWNER: pod.owner,
            hoststate.LABEL_TEMPLATE_HASH: pod.template_hash,
            hoststate.LABEL_REVISION: revision,
            hoststate.LABEL_REQUESTS: binding.requests_label(pod.spec),
        }
    )
    if pod.spec.host_ports:
        values[hoststate.LABEL_HOST_PORTS] = binding.host_ports_label(pod.spec)
    run = hoststate.PodRun(
        namespace=pod.namespace,
        name=pod.name,
        host=host,
        spec_hash="",
        labels=base.FrozenMap(values),
        containers=podfields.attach_host(resolved.containers, host, where),
        ports=resolved.ports,
        restart_policy=pod.spec.restart_policy.value,
        files=resolved.files,
        volumes=resolved.volumes,
        owner=pod.owner,
        termination_grace_seconds=pod.spec.termination_grace_period_seconds,
        host_aliases=pod.spec.host_aliases,
        init_containers=podfields.attach_host(resolved.init_containers, host, where),
        pull_credentials=resolved.pull_credentials,
        fs_group=pod.spec.security_context.fs_group if pod.spec.security_context else None,
        hostname=pod.spec.hostname,
        subdomain=pod.spec.subdomain,
    )
    parts = spec_parts(run)
    digest = spec_hash(parts)
    values[hoststate.LABEL_SPEC_HASH] = digest
    values[labels.SPEC_PARTS] = format_parts(parts)
    return dataclasses.replace(run, spec_hash=digest, labels=base.FrozenMap(values))


def spec_parts(run: hoststate.PodRun) -> dict[str, str]:
    """Digest of each part of the run, by part name; ignores the unhashed labels."""
    hashed = {k: v for k, v in run.labels.items() if k not in labels.UNHASHED}
    pod = {
        "host": run.host,
        "namespace": run.namespace,
        "name": run.name,
        "owner": run.owner,
        "labels": hashed,
        "restart_policy": run.restart_policy,
        "ports": run.ports,
        "volumes": run.volumes,
        "containers": [container.name for container in run.containers],
    }
    if run.host_aliases:  # the manifest's hostAliases (Service names are attached after this)
        pod["host_aliases"] = run.host_aliases
    if run.hostname:  # only when set: pods without them keep their hashes
        pod["hostname"] = run.hostname
    if run.subdomain:
        pod["subdomain"] = run.subdomain
    parts = {"pod": hashing.digest(pod, hashing.PART_HASH_LENGTH)}
    for container in run.containers:
        parts[f"container/{container.name}"] = hashing.digest(container, hashing.PART_HASH_LENGTH)
    for container in run.init_containers:  # initContainers: "init/<name>" (none: no part)
        parts[f"init/{container.name}"] = hashing.digest(container, hashing.PART_HASH_LENGTH)
    by_volume: dict[str, list[hoststate.HostFile]] = {}
    prefix = f"volumes/{run.namespace}/{run.name}/"
    for file in run.files:
        volume = file.path.removeprefix(prefix).split("/", 1)[0]
        by_volume.setdefault(volume, []).append(file)
    for volume, files in by_volume.items():
        parts[f"files/{volume}"] = hashing.digest(files, hashing.PART_HASH_LENGTH)
    return dict(sorted(parts.items()))


def spec_hash(parts: Mapping[str, str]) -> str:
    return hashing.digest(dict(parts), hashing.SPEC_HASH_LENGTH)


def format_parts(parts: Mapping[str, str]) -> str:
    return ",".join(f"{name}={digest}" for name, digest in sorted(parts.items()))


def parse_parts(label: str) -> dict[str, str]:
    parts = {}
    for item in label.split(","):
        name, equals, digest = item.partition("=")
        if equals:
            parts[name] = digest
    return parts


def changed_parts(observed: hoststate.ObservedPod, run: hoststate.PodRun) -> tuple[str, ...]:
    """Names of the parts that differ between an observed pod and its desired run, sorted; ()
    when the observed pod has no parts label (made by another version) or nothing differs."""
    label = observed.labels.get(labels.SPEC_PARTS)
    if not label:
        return ()
    before = parse_parts(label)
    after = parse_parts(run.labels.get(labels.SPEC_PARTS, ""))
    return tuple(
        sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    )
