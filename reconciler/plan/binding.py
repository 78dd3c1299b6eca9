"""Scheduling adapter: maps Host objects, host observations and desired pods onto the scheduler's
input values and runs it. Called by `pipeline.build_plan` between resolution and `podrun.build`.

Readiness is reachability in this reconcile's observations: a host that could not be read (or was
not observed at all) is not Ready. Binding is sticky: a desired pod observed on a reachable host,
with the same template hash, is bound there (if observed on several, the running copy wins, then
the first host by name; `diff` deletes the other copies). A pod observed nowhere, which includes
every pod of an unreachable host since those are unknown, is placed like a new one; nothing on
the unreachable host is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.model import base, diagnostics, hoststate, objects, workloads
from reconciler.plan import expand, podports, podrules
from reconciler.scheduler import inputs, reference, result, unchanged

PLAIN_PAIRS = 2_500
"""Up to this many hosts x pods, the plain `scheduler.reference` places the pods (the same answer,
tested in tests/scheduler; 60 us a pair): faster than importing numpy, and a daemon of a small
fleet never holds numpy's 11 MB. Above it, `scheduler.placement` (numpy columns)."""


def pod_key(namespace: str, name: str) -> str:
    """The scheduler's pod key, "namespace/name"."""
    return f"{namespace}/{name}"


def _quantity(value: int) -> int:
    return min(max(value, 0), inputs.MAX_QUANTITY - 1)


def host_info(host: objects.Host, ready: bool) -> inputs.HostInfo:
    return inputs.HostInfo(
        name=host.meta.name,
        ready=ready,
        cpu_millis=_quantity(host.cpu_capacity),
        memory_bytes=_quantity(host.memory_capacity),
        labels=host.node_labels,
        taints=tuple(
            inputs.Taint(taint.key, taint.value, inputs.TaintEffect(taint.effect.value))
            for taint in host.taints
        ),
        pod_ports=len(podports.RANGE),
        **({} if host.ephemeral_storage_capacity is None else
           {"ephemeral_storage": _quantity(host.ephemeral_storage_capacity)}),
    )


def ready_hosts(observations: Mapping[str, hoststate.HostObservation]) -> frozenset[str]:
    return frozenset(name for name, seen in observations.items() if seen.reachable)


def pod_request(pod: expand.DesiredPod, bound_host: str | None) -> inputs.PodRequest:
    spec = pod.spec
    return inputs.PodRequest(
        key=pod_key(pod.namespace, pod.name),
        owner=f"{pod.namespace}/{pod.owner}" if pod.owner else None,
        cpu_millis=_quantity(spec.cpu_request),
        memory_bytes=_quantity(spec.memory_request),
        node_selector=dict(spec.node_selector),
        tolerations=tuple(_toleration(t) for t in spec.tolerations),
        host_ports=frozenset(
            inputs.HostPort(port, inputs.Protocol(protocol.value))
            for port, protocol in spec.host_ports
        ),
        bound_host=bound_host,
        pod_ports=len(podports.declared_ports(spec)),
        ephemeral_storage=_quantity(spec.ephemeral_storage_request),
        labels=dict(pod.labels),
        rules=podrules.rules(spec.placement),
        node_affinity=podrules.node_affinity(spec.placement),
    )


def _toleration(toleration: workloads.Toleration) -> inputs.Toleration:
    return inputs.Toleration(
        key=toleration.key,
        operator=inputs.TolerationOperator(toleration.operator.value),
        value=toleration.value,
        effect=inputs.TaintEffect(toleration.effect.value) if toleration.effect else None,
    )


def sticky_hosts(
    pods: Iterable[expand.DesiredPod],
    observations: Mapping[str, hoststate.HostObservation],
) -> dict[tuple[str, str], str]:
    """(namespace, name) -> the reachable host each desired pod stays on: where a copy with the
    same template hash runs (a bare Pod whose spec changed is placed afresh, as a recreated
    pod would be in Kubernetes, so a new nodeSelector takes effect)."""
    candidates: dict[tuple[str, str], list[hoststate.ObservedPod]] = {}
    for seen in observations.values():
        if seen.reachable:
            for pod in seen.pods:
                candidates.setdefault(pod.key, []).append(pod)
    sticky = {}
    for wanted in pods:
        same = [
            copy
            for copy in candidates.get(wanted.key, ())
            if copy.labels.get(hoststate.LABEL_TEMPLATE_HASH) == wanted.template_hash
        ]
        if same:
            best = min(same, key=lambda c: (c.phase is not hoststate.PodPhase.RUNNING, c.host))
            sticky[wanted.key] = best.host
    return sticky


@dataclass(frozen=True)
class Binding:
    """The scheduler's placement, plus hosts and pods its inputs refused (for instance a
    toleration Kubernetes would reject): such a host is left out, such a pod is not placed."""

    placement: result.Placement
    errors: tuple[diagnostics.Diagnostic, ...] = ()
    refused: frozenset[tuple[str, str]] = frozenset()


def kept_request(pod: hoststate.ObservedPod) -> inputs.PodRequest:
    """A pod that stays where it runs without being desired (an old pod mid-rollout): bound to
    its host, counting the requests and hostPorts its labels record (none when it has no such
    labels, e.g. made by an older version)."""
    requests = dict(
        item.split("=", 1)
        for item in pod.labels.get(hoststate.LABEL_REQUESTS, "").split(",")
        if "=" in item
    )
    ports = set()
    for item in pod.labels.get(hoststate.LABEL_HOST_PORTS, "").split(","):
        number, _, protocol = item.partition("/")
        if number.isdigit() and protocol in ("TCP", "UDP"):
            ports.add(inputs.HostPort(int(number), inputs.Protocol(protocol)))
    return inputs.PodRequest(
        key=pod_key(pod.namespace, pod.name),
        owner=f"{pod.namespace}/{pod.owner}" if pod.owner else None,
        cpu_millis=_quantity(_int(requests.get("cpu", "0"))),
        memory_bytes=_quantity(_int(requests.get("memory", "0"))),
        host_ports=frozenset(ports),
        bound_host=pod.host,
        pod_ports=sum(1 for p in podports.observed_ports(pod).values() if p in podports.RANGE),
        labels=dict(pod.labels),  # matched by other pods' spread and affinity selectors
        ephemeral_storage=_quantity(_int(requests.get("ephemeral-storage", "0"))),
    )


def requests_label(spec: workloads.PodSpec) -> str:
    """The LABEL_REQUESTS value of a pod with this spec (read back by `kept_request`)."""
    storage = spec.ephemeral_storage_request  # only when set: other pods keep their label
    extra = f",ephemeral-storage={storage}" if storage else ""
    return f"cpu={spec.cpu_request},memory={spec.memory_request}{extra}"


def host_ports_label(spec: workloads.PodSpec) -> str:
    """The LABEL_HOST_PORTS value of a pod with this spec (read back by `kept_request`)."""
    return ",".join(f"{port}/{protocol.value}" for port, protocol in sorted(spec.host_ports))


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def schedule(
    hosts: Sequence[objects.Host],
    pods: Iterable[expand.DesiredPod],
    observations: Mapping[str, hoststate.HostObservation],
    kept: Iterable[hoststate.ObservedPod] = (),
) -> Binding:
    """Place `pods`; `kept` pods stay where they run and take their share of it."""
    pods = tuple(pods)
    ready = ready_hosts(observations)
    sticky = sticky_hosts(pods, observations)
    errors: list[diagnostics.Diagnostic] = []
    refused: set[tuple[str, str]] = set()
    infos = []
    for host in hosts:
        try:
            infos.append(host_info(host, host.meta.name in ready))
        except ValueError as exc:
            errors.append(_refused(str(host.key), host.source, str(exc)))
    requests = []
    for pod in pods:
        try:
            requests.append(pod_request(pod, sticky.get(pod.key)))
        except ValueError as exc:
            refused.add(pod.key)
            errors.append(_refused(str(pod.object_key), pod.source, str(exc)))
    requests.extend(kept_request(pod) for pod in kept)
    placed = unchanged.all_kept(infos, requests)  # nothing to place: numpy stays unimported
    if placed is None and len(infos) * len(requests) <= PLAIN_PAIRS:
        placed = reference.schedule(infos, requests)
    if placed is None:
        from reconciler.scheduler import placement  # noqa: PLC0415

        placed = placement.schedule(infos, requests)
    return Binding(placed, tuple(errors), frozenset(refused))


def _refused(subject: str, source: base.SourceRef | None, message: str) -> diagnostics.Diagnostic:
    return diagnostics.Diagnostic(
        file=source.file if source else "",
        line=source.line if source else 0,
        column=1 if source else 0,
        path="",
        message=f"{subject}: cannot be scheduled: {message}",
        code=diagnostics.Code.INVALID_VALUE,
    )
