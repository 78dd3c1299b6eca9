"""Plain-data views of desired `PodRun`s and `ObservedPod`s, the one place where secret values are
replaced by `<redacted>`. `render` prints them as YAML for `reconciler diff`, `export` puts them
in the `-o json` document. Digest labels (spec hash and parts) are left out as well, since a
low-entropy secret could be guessed from them.

Only what an observed pod tells (labels, container names and images) appears on both sides, so a
diff of the two views shows real differences; the rest of a desired pod is its `detail`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model import hoststate, quantity
from reconciler.plan import labels

REDACTED = "<redacted>"

View = dict[str, Any]


def shown(value: str) -> str:
    return REDACTED if isinstance(value, hoststate.Sensitive) else value


def shown_labels(values: Mapping[str, str]) -> dict[str, str]:
    return {k: values[k] for k in sorted(values) if labels.shown(k)}


def run_view(run: hoststate.PodRun, detail: frozenset[str] | None = None) -> View:
    """The desired pod. `detail` names the spec parts (`pod`, `container/<name>`,
    `files/<volume>`) to show in full; None shows every part."""

    def full(part: str) -> bool:
        return detail is None or part in detail

    view: View = {
        "host": run.host,
        "namespace": run.namespace,
        "name": run.name,
        "labels": shown_labels(run.labels),
    }
    if full("pod"):
        view["restartPolicy"] = run.restart_policy
        if run.ports:
            view["ports"] = [_port(port) for port in run.ports]
        if run.volumes:
            view["podmanVolumes"] = list(run.volumes)
    view["containers"] = [
        _container(c) if full(f"container/{c.name}") else {"name": c.name, "image": c.image}
        for c in run.containers
    ]
    files = [f for f in run.files if full(f"files/{_volume_of(run, f)}")]
    if files:
        view["files"] = [_file(f) for f in files]
    return view


def observed_view(pod: hoststate.ObservedPod) -> View:
    """What a host reports about a pod, in the shape of `run_view`'s common part."""
    return {
        "host": pod.host,
        "namespace": pod.namespace,
        "name": pod.name,
        "labels": shown_labels(pod.labels),
        "containers": [{"name": c.name, "image": c.image} for c in pod.containers],
    }


def observed_status(pod: hoststate.ObservedPod) -> View:
    """The rest of what the host reports: phase and container states (for JSON output)."""
    return {
        "podmanId": pod.podman_id,
        "phase": pod.phase.value,
        "createdAt": pod.created_at,
        "containers": [
            {
                "name": c.name,
                "state": c.state,
                "exitCode": c.exit_code,
                "restartCount": c.restart_count,
                "startedAt": c.started_at,
            }
            for c in pod.containers
        ],
    }


def _volume_of(run: hoststate.PodRun, file: hoststate.HostFile) -> str:
    return file.path.removeprefix(f"volumes/{run.namespace}/{run.name}/").split("/", 1)[0]


def _port(port: hoststate.PortMapping) -> str:
    host = f"{port.host_ip}:" if port.host_ip else ""
    return f"{host}{port.host_port}:{port.container_port}/{port.protocol}"


def _container(container: hoststate.ContainerRun) -> View:
    view: View = {
        "name": container.name,
        "image": container.image,
        "imagePullPolicy": container.pull_policy,
    }
    if container.command:
        view["command"] = [shown(arg) for arg in container.command]
    if container.args:
        view["args"] = [shown(arg) for arg in container.args]
    if container.working_dir:
        view["workingDir"] = container.working_dir
    if container.env:
        view["env"] = [{"name": name, "value": shown(value)} for name, value in container.env]
    if container.mounts:
        view["mounts"] = [
            {
                "kind": mount.kind.value,
                "source": mount.source,
                "target": mount.target,
                "readOnly": mount.read_only,
            }
            for mount in container.mounts
        ]
    limits = {}
    if container.cpu_limit_millis is not None:
        limits["cpu"] = quantity.format_millicores(container.cpu_limit_millis)
    if container.memory_limit_bytes is not None:
        limits["memory"] = quantity.format_bytes(container.memory_limit_bytes)
    if limits:
        view["limits"] = limits
    return view


def _file(file: hoststate.HostFile) -> View:
    view: View = {"path": file.path, "mode": f"0{file.mode:o}"}
    if file.secret:
        view["secret"] = True
        view["content"] = REDACTED
        return view
    try:
        view["content"] = file.content.decode("utf-8")
    except UnicodeDecodeError:
        view["content"] = f"<binary: {len(file.content)} bytes>"
    return view
