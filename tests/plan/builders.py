"""Small constructors of desired objects and observations for the planner's unit tests."""

from __future__ import annotations

from reconciler.model import base, hoststate, objects, workloads
from reconciler.plan import pipeline

GiB = 1 << 30


def container(name: str = "app", image: str = "nginx:1.25", **kw: object) -> workloads.Container:
    return workloads.Container(name=name, image=image, **kw)  # type: ignore[arg-type]


def spec(*containers: workloads.Container, **kw: object) -> workloads.PodSpec:
    return workloads.PodSpec(containers=containers or (container(),), **kw)  # type: ignore[arg-type]


def deployment(
    name: str = "web",
    replicas: int = 2,
    pod_spec: workloads.PodSpec | None = None,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
) -> workloads.Deployment:
    selector = labels or {"app": name}
    return workloads.Deployment(
        meta=base.ObjectMeta(name=name, namespace=namespace),
        replicas=replicas,
        selector=base.FrozenMap(selector),
        template=workloads.PodTemplate(
            labels=base.FrozenMap(selector),
            annotations=base.FrozenMap(),
            spec=pod_spec or spec(),
        ),
    )


def pod(
    name: str = "solo", pod_spec: workloads.PodSpec | None = None, namespace: str = "default"
) -> workloads.Pod:
    return workloads.Pod(base.ObjectMeta(name=name, namespace=namespace), pod_spec or spec())


def namespace(name: str) -> objects.Namespace:
    return objects.Namespace(base.ObjectMeta(name=name))


def config_map(
    name: str,
    data: dict[str, str],
    namespace: str = "default",
    binary: dict[str, bytes] | None = None,
) -> objects.ConfigMap:
    return objects.ConfigMap(
        base.ObjectMeta(name=name, namespace=namespace),
        data=base.FrozenMap(data),
        binary_data=base.FrozenMap(binary or {}),
    )


def secret(name: str, data: dict[str, bytes], namespace: str = "default") -> objects.Secret:
    return objects.Secret(base.ObjectMeta(name=name, namespace=namespace), base.FrozenMap(data))


def host(
    name: str,
    cpu: int = 4000,
    memory: int = 8 * GiB,
    labels: dict[str, str] | None = None,
    taints: tuple[objects.Taint, ...] = (),
) -> objects.Host:
    return objects.Host(
        meta=base.ObjectMeta(name=name, labels=base.FrozenMap(labels or {})),
        address="192.0.2.1",
        ssh_user="rc",
        cpu_capacity=cpu,
        memory_capacity=memory,
        taints=taints,
    )


def state(*items: objects.Object) -> objects.DesiredState:
    return objects.DesiredState.of(list(items))


def observed_from(run: hoststate.PodRun, **kw: object) -> hoststate.ObservedPod:
    """The pod a host would report after running `run` (labels read back)."""
    fields: dict[str, object] = {
        "namespace": run.namespace,
        "name": run.name,
        "host": run.host,
        "podman_id": f"id-{run.name}",
        "spec_hash": run.spec_hash,
        "owner": run.owner,
        "revision": run.labels.get(hoststate.LABEL_REVISION, ""),
        "labels": run.labels,
        "phase": hoststate.PodPhase.RUNNING,
        "containers": tuple(
            hoststate.ObservedContainer(c.name, f"cid-{c.name}", c.image, "running")
            for c in run.containers
        ),
    }
    fields.update(kw)
    return hoststate.ObservedPod(**fields)  # type: ignore[arg-type]


def observations(
    *reachable: str, down: tuple[str, ...] = (), pods: tuple[hoststate.ObservedPod, ...] = ()
) -> dict[str, hoststate.HostObservation]:
    out = {
        name: hoststate.HostObservation(name, True, tuple(p for p in pods if p.host == name))
        for name in reachable
    }
    out.update({name: hoststate.HostObservation(name, False, error="timeout") for name in down})
    return out


def running(result: pipeline.PlanResult) -> tuple[hoststate.ObservedPod, ...]:
    """What hosts would report once `result`'s runs are applied."""
    return tuple(observed_from(run) for run in result.runs)


def apply(
    result: pipeline.PlanResult, before: dict[str, hoststate.HostObservation]
) -> dict[str, hoststate.HostObservation]:
    """Observations after `result` is applied on the reachable hosts of `before`."""
    after = dict(before)
    for name, seen in before.items():
        if not seen.reachable:
            continue
        deleted = {
            (a.namespace, a.name)
            for a in result.plan.for_host(name)
            if a.kind is not hoststate.ActionKind.CREATE
        }
        kept = tuple(p for p in seen.pods if p.key not in deleted)
        made = tuple(observed_from(a.run) for a in result.plan.for_host(name) if a.run is not None)
        after[name] = hoststate.HostObservation(name, True, kept + made)
    return after
