"""The manifests the benchmarks generate (Host, Namespace, Deployment, Pod), as YAML text.

One place for what `apply_repo`, `daemon_bench`, `validate_bench` and `peers.peers_bench` used to
write from their own copies of the templates. The published figures were measured on these
manifests: what a function writes for the arguments a benchmark passes must not change (a
Deployment's or Pod's text is the spec the reconciler hashes into pod names and labels).

Each function builds the document as nested mappings and writes it with `render`, in block style:
keys in the order given, two spaces an indent level, a sequence's `- ` items two spaces under its
key, a `Flow` (command, args) as one JSON flow sequence, booleans as `true`/`false`, and a string
plain unless YAML would read it as something else (`"8"`) or it is `Quoted`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias


class Quoted(str):
    """A string written double-quoted even where a plain scalar would read the same."""

    __slots__ = ()


class Flow(tuple[str, ...]):
    """A sequence of strings written on one line, `["sleep", "3600"]` (command, args)."""

    __slots__ = ()


Scalar: TypeAlias = str | int | bool
Node: TypeAlias = Scalar | Flow | Sequence["Node"] | Mapping[str, "Node"]
Fields: TypeAlias = Mapping[str, Node]
"""One mapping of a document (metadata, a container, a port, a toleration, ...)."""

SMALL_REQUESTS: Final[Mapping[str, Mapping[str, str]]] = {
    "requests": {"cpu": "10m", "memory": "16Mi"}
}
"""The benchmarks' busybox containers: tiny requests, no limits."""

_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./:@+-]*")
_NOT_A_STRING = re.compile(  # YAML 1.1 / 1.2 numbers, booleans, null, timestamps
    r"[-+]?(\.?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|0[xob][0-9a-f_]+|\.inf|\.nan"
    r"|[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)"
    r"|~|null|true|false|yes|no|on|off|y|n|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*",
    re.IGNORECASE,
)


def render(document: Fields) -> str:
    """The YAML text of one document (no `---`), ending in a newline."""
    return "\n".join(_mapping(document, 0)) + "\n"


def host_yaml(
    name: str,
    address: str,
    user: str,
    port: int | None = 22,
    *,
    cpu: str = "8",
    memory: str = "16Gi",
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
) -> str:
    """A `Host`; `port=None` leaves the SSH port out (the default, 22, applies)."""
    ssh: dict[str, Node] = {"user": user}
    if port is not None:
        ssh["port"] = port
    spec: dict[str, Node] = {
        "address": address,
        "ssh": ssh,
        "capacity": {"cpu": cpu, "memory": memory},
    }
    if taints:
        spec["taints"] = taints
    return _document("reconciler.dev/v1alpha1", "Host", _metadata(name, None, labels), spec)


def namespace_yaml(name: str, labels: Mapping[str, str] | None = None) -> str:
    """A `Namespace`."""
    return _document("v1", "Namespace", _metadata(name, None, labels))


def container(
    image: str,
    command: Sequence[str] | None = None,
    *,
    name: str = "main",
    args: Sequence[str] | None = None,
    pull_policy: str | None = "IfNotPresent",
    ports: Sequence[Fields] = (),
    env: Mapping[str, str | Fields] | None = None,
    env_from: Sequence[Fields] = (),
    resources: Fields | None = SMALL_REQUESTS,
    volume_mounts: Sequence[Fields] = (),
) -> Fields:
    """One container of a pod template, for `deployment_yaml` and `pod_yaml`. `env` maps a
    variable to its value (a string) or to its `valueFrom` source (a mapping)."""
    fields: dict[str, Node] = {"name": name, "image": image}
    if pull_policy is not None:
        fields["imagePullPolicy"] = pull_policy
    if command is not None:
        fields["command"] = Flow(command)
    if args is not None:
        fields["args"] = Flow(args)
    if ports:
        fields["ports"] = ports
    if env:
        fields["env"] = [
            {"name": key, "value": value}
            if isinstance(value, str)
            else {"name": key, "valueFrom": value}
            for key, value in env.items()
        ]
    if env_from:
        fields["envFrom"] = env_from
    if resources is not None:
        fields["resources"] = resources
    if volume_mounts:
        fields["volumeMounts"] = volume_mounts
    return fields


def deployment_yaml(
    name: str,
    namespace: str,
    replicas: int,
    main: Fields,
    *,
    labels: Mapping[str, str] | None = None,
    pod_labels: Mapping[str, str] | None = None,
    volumes: Sequence[Fields] = (),
    tolerations: Sequence[Mapping[str, str]] = (),
    grace_seconds: int | None = None,
    strategy: Fields | None = None,
) -> str:
    """A `Deployment` of `replicas` pods of the one container `main` (see `container`), selected
    by `app: <name>`; `pod_labels` are the pods' labels besides that one; `strategy` as in
    Kubernetes (left out when None: RollingUpdate, 25% surge and unavailable)."""
    template: dict[str, Node] = {
        "metadata": {"labels": {"app": name, **(pod_labels or {})}},
        "spec": _pod_spec(main, None, None, volumes, tolerations, grace_seconds),
    }
    spec: dict[str, Node] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": template,
    }
    if strategy is not None:
        spec["strategy"] = strategy
    return _document("apps/v1", "Deployment", _metadata(name, namespace, labels), spec)


def pod_yaml(
    name: str,
    namespace: str,
    main: Fields,
    *,
    labels: Mapping[str, str] | None = None,
    restart_policy: str | None = None,
    node_selector: Mapping[str, str] | None = None,
    grace_seconds: int | None = None,
) -> str:
    """A bare `Pod` of the one container `main` (see `container`)."""
    spec = _pod_spec(main, restart_policy, node_selector, (), (), grace_seconds)
    return _document("v1", "Pod", _metadata(name, namespace, labels), spec)


def _pod_spec(
    main: Fields,
    restart_policy: str | None,
    node_selector: Mapping[str, str] | None,
    volumes: Sequence[Fields],
    tolerations: Sequence[Mapping[str, str]],
    grace_seconds: int | None,
) -> dict[str, Node]:
    spec: dict[str, Node] = {}
    if restart_policy is not None:
        spec["restartPolicy"] = restart_policy
    if node_selector:
        spec["nodeSelector"] = node_selector
    spec["containers"] = [main]
    if volumes:
        spec["volumes"] = volumes
    if tolerations:
        spec["tolerations"] = tolerations
    if grace_seconds is not None:
        spec["terminationGracePeriodSeconds"] = grace_seconds
    return spec


def _metadata(name: str, namespace: str | None, labels: Mapping[str, str] | None) -> Fields:
    metadata: dict[str, Node] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = labels
    return metadata


def _document(api_version: str, kind: str, metadata: Fields, spec: Fields | None = None) -> str:
    document: dict[str, Node] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if spec is not None:
        document["spec"] = spec
    return render(document)


def _mapping(fields: Fields, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in fields.items():
        if isinstance(value, Flow):
            lines.append(f"{pad}{key}: {json.dumps(list(value))}")
        elif isinstance(value, str | int):
            lines.append(f"{pad}{key}: {_scalar(value)}")
        elif not value:
            lines.append(f"{pad}{key}: {{}}" if isinstance(value, Mapping) else f"{pad}{key}: []")
        elif isinstance(value, Mapping):
            lines.append(f"{pad}{key}:")
            lines.extend(_mapping(value, indent + 2))
        else:
            lines.append(f"{pad}{key}:")
            for item in value:
                lines.extend(_item(item, indent + 2))
    return lines


def _item(item: Node, indent: int) -> list[str]:
    """One `- ` item of a block sequence at `indent`; a mapping's keys line up after the dash."""
    dash = " " * indent + "- "
    if isinstance(item, Flow):
        return [dash + json.dumps(list(item))]
    if isinstance(item, str | int):
        return [dash + _scalar(item)]
    if isinstance(item, Mapping) and item:
        first, *rest = _mapping(item, indent + 2)
        return [dash + first.lstrip(" "), *rest]
    raise TypeError(f"cannot write {item!r} as a sequence item")


def _scalar(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Quoted) or not _PLAIN.fullmatch(value) or value.endswith(":"):
        return json.dumps(value)
    return json.dumps(value) if _NOT_A_STRING.fullmatch(value) else value
