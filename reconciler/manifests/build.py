"""Build typed model objects from documents that passed the schema and the checks.

Last per-document stage of `loader`: plain dicts in, frozen `reconciler.model` dataclasses out,
with defaults filled in the way Kubernetes fills them and quantities in millicores and bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from reconciler.manifests import autoscalers as hpadocs
from reconciler.manifests import (
    claimchecks,
    cronjobdocs,
    emptydir,
    hookchecks,
    jobdocs,
    placementchecks,
    podnetwork,
    probechecks,
    securitycontext,
)
from reconciler.model import base, cordon, disruption, objects, quantity, workloads

Doc = dict[str, Any]


def build(kind: base.Kind, doc: Doc, namespace: str, source: base.SourceRef) -> objects.Object:
    """The typed object of a valid document (`namespace` is "" for cluster-scoped kinds)."""
    return _BUILDERS[kind](doc, _meta(doc["metadata"], namespace), source)


def _meta(meta: Doc, namespace: str) -> base.ObjectMeta:
    return base.ObjectMeta(
        name=meta["name"],
        namespace=namespace,
        labels=base.frozen_map(meta.get("labels")),
        annotations=base.frozen_map(meta.get("annotations")),
    )


def _namespace(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> objects.Object:
    return objects.Namespace(meta, source=source)


def _config_map(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> objects.Object:
    binary = {k: base64.b64decode(v) for k, v in (doc.get("binaryData") or {}).items()}
    return objects.ConfigMap(
        meta, base.frozen_map(doc.get("data")), base.FrozenMap(binary), source=source
    )


def _secret(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> objects.Object:
    data = {k: base64.b64decode(v) for k, v in (doc.get("data") or {}).items()}
    data.update({k: v.encode() for k, v in (doc.get("stringData") or {}).items()})
    return objects.Secret(meta, base.FrozenMap(data), doc.get("type") or "Opaque", source=source)


def _pod(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> objects.Object:
    return workloads.Pod(meta, pod_spec(doc["spec"]), source=source)


def _deployment(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> objects.Object:
    spec = doc["spec"]
    template = spec["template"]
    template_meta = template.get("metadata") or {}
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    return workloads.Deployment(
        meta=meta,
        replicas=spec.get("replicas", 1),
        selector=base.frozen_map(spec["selector"]["matchLabels"]),
        template=workloads.PodTemplate(
            labels=base.frozen_map(template_meta.get("labels")),
            annotations=base.frozen_map(template_meta.get("annotations")),
            spec=pod_spec(template["spec"]),
        ),
        strategy=workloads.StrategyType(strategy.get("type") or "RollingUpdate"),
        rolling_update=workloads.RollingUpdate(
            max_surge=_int_or_str(rolling.get("maxSurge"), "25%"),
            max_unavailable=_int_or_str(rolling.get("maxUnavailable"), "25%"),
        ),
        min_ready_seconds=_int(spec, "minReadySeconds", 0),
        progress_deadline_seconds=_int(spec, "progressDeadlineSeconds", 600),
        source=source,
    )


def _job(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> objects.Object:
    return jobdocs.build(doc, meta, source, pod_spec(doc["spec"]["template"]["spec"]))


def _cron_job(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> objects.Object:
    pod = pod_spec(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return cronjobdocs.build(doc, meta, source, pod)


def _service(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> objects.Object:
    spec = doc["spec"]
    ports = tuple(
        objects.ServicePort(
            port=p["port"],
            target_port=p.get("targetPort", p["port"]),
            protocol=workloads.Protocol(p.get("protocol") or "TCP"),
            name=p.get("name", ""),
            node_port=p.get("nodePort") or None,  # 0 is unset, as in Kubernetes
            app_protocol=p.get("appProtocol") or "",
        )
        for p in spec.get("ports") or ()  # none: a headless Service (servicechecks)
    )
    return objects.Service(
        meta,
        base.frozen_map(spec["selector"]),
        ports,
        spec.get("type") or "ClusterIP",
        source=source,
        session_affinity=spec.get("sessionAffinity") or "None",
        cluster_ip=spec.get("clusterIP") or "",  # pinned; else the loader allocates one
    )


def _host(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> objects.Object:
    spec = doc["spec"]
    return objects.Host(
        meta=meta,
        address=spec["address"],
        ssh_user=spec["ssh"]["user"],
        ssh_port=spec["ssh"].get("port", 22),
        cpu_capacity=quantity.cpu_millicores(spec["capacity"]["cpu"]),
        memory_capacity=quantity.memory_bytes(spec["capacity"]["memory"]),
        taints=tuple(
            objects.Taint(t["key"], workloads.TaintEffect(t["effect"]), t.get("value", ""))
            for t in spec.get("taints") or []
        ) + cordon.cordon_taints(spec.get("unschedulable") is True, meta),
        source=source,
        unschedulable=spec.get("unschedulable") is True,
        ephemeral_storage_capacity=(
            quantity.memory_bytes(spec["capacity"]["ephemeral-storage"])
            if "ephemeral-storage" in spec["capacity"] else None
        ),
    )


def _disruption_budget(
    doc: Doc, meta: base.ObjectMeta, source: base.SourceRef
) -> objects.Object:
    spec = doc["spec"]
    return disruption.PodDisruptionBudget(
        meta,
        base.frozen_map((spec.get("selector") or {}).get("matchLabels")),
        min_available=spec.get("minAvailable"),
        max_unavailable=spec.get("maxUnavailable"),
        source=source,
    )


def pod_spec(spec: Doc) -> workloads.PodSpec:
    return workloads.PodSpec(
        containers=tuple(_container(c) for c in spec["containers"]),
        restart_policy=workloads.RestartPolicy(spec.get("restartPolicy") or "Always"),
        node_selector=base.frozen_map(spec.get("nodeSelector")),
        tolerations=tuple(_toleration(t) for t in spec.get("tolerations") or []),
        placement=placementchecks.build(spec),
        volumes=tuple(_volume(v) for v in spec.get("volumes") or []),
        termination_grace_period_seconds=spec.get("terminationGracePeriodSeconds", 30),
        security_context=securitycontext.build(spec.get("securityContext")),
        host_aliases=podnetwork.host_aliases(spec),
        init_containers=tuple(_container(c) for c in spec.get("initContainers") or []),
        image_pull_secrets=tuple(str(s["name"]) for s in spec.get("imagePullSecrets") or []),
        hostname=spec.get("hostname") or "",
        subdomain=spec.get("subdomain") or "",
    )


def _container(c: Doc) -> workloads.Container:
    policy = c.get("imagePullPolicy")
    return workloads.Container(
        name=c["name"],
        image=c["image"],
        command=tuple(c.get("command") or ()),
        args=tuple(c.get("args") or ()),
        working_dir=c.get("workingDir", ""),
        env=tuple(_env(e) for e in c.get("env") or []),
        env_from=tuple(_env_from(e) for e in c.get("envFrom") or []),
        ports=tuple(
            workloads.ContainerPort(
                container_port=p["containerPort"],
                host_port=p.get("hostPort"),
                protocol=workloads.Protocol(p.get("protocol") or "TCP"),
                name=p.get("name", ""),
                host_ip=p.get("hostIP", ""),
            )
            for p in c.get("ports") or []
        ),
        resources=_resources(c.get("resources") or {}),
        volume_mounts=tuple(
            workloads.VolumeMount(
                m["name"],
                m["mountPath"],
                bool(m.get("readOnly")),
                m.get("subPath") or "",
                m.get("subPathExpr") or "",
            )
            for m in c.get("volumeMounts") or []
        ),
        # None when unset: the planner applies Kubernetes' default for the image's tag
        image_pull_policy=workloads.PullPolicy(policy) if policy else None,
        liveness_probe=_probe(c.get("livenessProbe"), c),
        readiness_probe=_probe(c.get("readinessProbe"), c),
        startup_probe=_probe(c.get("startupProbe"), c),
        security_context=securitycontext.build(c.get("securityContext")),
        lifecycle=hookchecks.build(c),
    )


def _probe(probe: Doc | None, container: Doc) -> workloads.Probe | None:
    """A probe with Kubernetes' defaults; a port name resolved to the container port."""
    if probe is None:
        return None
    handler = next(h for h in workloads.ProbeHandler if probe.get(h.value) is not None)
    action: Doc = probe[handler.value]
    port = 0
    if "port" in action:
        resolved = probechecks.resolve_port(
            container.get("ports") or [], action["port"], numbers=True
        )
        assert resolved is not None, "the checks require a declared port"
        port = resolved
    return workloads.Probe(
        handler=handler,
        command=tuple(action.get("command") or ()),
        port=port,
        path=action.get("path") or "/",
        http_headers=tuple((h["name"], h["value"]) for h in action.get("httpHeaders") or []),
        initial_delay_seconds=_int(probe, "initialDelaySeconds", 0),
        period_seconds=_int(probe, "periodSeconds", 10),
        timeout_seconds=_int(probe, "timeoutSeconds", 1),
        success_threshold=_int(probe, "successThreshold", 1),
        failure_threshold=_int(probe, "failureThreshold", 3),
    )


def _int_or_str(value: float | str | None, default: str) -> int | str:
    """An int-or-string field: a percentage as written, a whole number (`1.0` too) as int."""
    if value is None:
        return default
    return value if isinstance(value, str) else int(value)


def _int(doc: Doc, name: str, default: int) -> int:
    """An optional integer field; null (unset, as in Kubernetes) gives the default."""
    value = doc.get(name)
    return default if value is None else int(value)


def _env(e: Doc) -> workloads.EnvVar:
    source = e.get("valueFrom") or {}
    return workloads.EnvVar(
        name=e["name"],
        value=e.get("value", ""),
        config_map_key=_key_ref(source.get("configMapKeyRef")),
        secret_key=_key_ref(source.get("secretKeyRef")),
        field_path=(source.get("fieldRef") or {}).get("fieldPath", ""),
        resource_field=_resource_ref(source.get("resourceFieldRef")),
    )


def _resource_ref(ref: Doc | None) -> workloads.ResourceFieldRef | None:
    if not ref:
        return None
    divisor = ref.get("divisor", "1")
    return workloads.ResourceFieldRef(
        ref["resource"], ref.get("containerName", ""), str(divisor)
    )


def _key_ref(ref: Doc | None) -> workloads.KeyRef | None:
    if not ref:
        return None
    return workloads.KeyRef(ref["name"], ref["key"], bool(ref.get("optional")))


def _env_from(e: Doc) -> workloads.EnvFrom:
    config_map = e.get("configMapRef") or {}
    secret = e.get("secretRef") or {}
    return workloads.EnvFrom(
        config_map=config_map.get("name", ""),
        secret=secret.get("name", ""),
        prefix=e.get("prefix", ""),
        optional=bool(config_map.get("optional") or secret.get("optional")),
    )


def _resources(r: Doc) -> workloads.Resources:
    requests = r.get("requests") or {}
    limits = r.get("limits") or {}

    def parsed(section: Doc, name: str, parse: Callable[[object], int]) -> int | None:
        return parse(section[name]) if name in section else None

    return workloads.Resources(
        cpu_request=parsed(requests, "cpu", quantity.cpu_millicores),
        memory_request=parsed(requests, "memory", quantity.memory_bytes),
        cpu_limit=parsed(limits, "cpu", quantity.cpu_millicores),
        memory_limit=parsed(limits, "memory", quantity.memory_bytes),
        ephemeral_storage_request=parsed(requests, "ephemeral-storage", quantity.memory_bytes),
        ephemeral_storage_limit=parsed(limits, "ephemeral-storage", quantity.memory_bytes),
    )


def _toleration(t: Doc) -> workloads.Toleration:
    effect = t.get("effect") or None
    return workloads.Toleration(
        key=t.get("key", ""),
        operator=workloads.TolerationOperator(t.get("operator") or "Equal"),
        value=t.get("value", ""),
        effect=workloads.TaintEffect(effect) if effect else None,
    )


def _volume(v: Doc) -> workloads.Volume:
    name = v["name"]
    for field_name, volume_type, name_field in (
        ("configMap", workloads.VolumeType.CONFIG_MAP, "name"),
        ("secret", workloads.VolumeType.SECRET, "secretName"),
    ):
        if field_name in v:
            source = v[field_name]
            items = source.get("items") or []
            return workloads.Volume(
                name,
                volume_type,
                source[name_field],
                tuple(workloads.KeyToPath(i["key"], i["path"], i.get("mode")) for i in items),
                bool(source.get("optional")),
                default_mode=source.get("defaultMode"),
            )
    if "hostPath" in v:
        host_path = v["hostPath"]
        return workloads.Volume(
            name,
            workloads.VolumeType.HOST_PATH,
            host_path["path"],
            host_path_type=host_path.get("type", ""),
        )
    if "persistentVolumeClaim" in v:
        claim = v["persistentVolumeClaim"]
        return workloads.Volume(
            name, workloads.VolumeType.PERSISTENT_VOLUME_CLAIM, claim["claimName"],
            read_only=bool(claim.get("readOnly")),
        )  # fmt: skip
    empty = v.get("emptyDir") or {}
    return workloads.Volume(
        name,
        workloads.VolumeType.EMPTY_DIR,
        medium=empty.get("medium", ""),
        size_limit=emptydir.size_limit(empty),
    )


_BUILDERS: dict[base.Kind, Callable[[Doc, base.ObjectMeta, base.SourceRef], objects.Object]] = {
    base.Kind.NAMESPACE: _namespace,
    base.Kind.CONFIG_MAP: _config_map,
    base.Kind.SECRET: _secret,
    base.Kind.POD: _pod,
    base.Kind.DEPLOYMENT: _deployment,
    base.Kind.SERVICE: _service,
    base.Kind.HOST: _host,
    base.Kind.HORIZONTAL_POD_AUTOSCALER: hpadocs.build,
    base.Kind.POD_DISRUPTION_BUDGET: _disruption_budget,
    base.Kind.JOB: _job,
    base.Kind.CRON_JOB: _cron_job,
    base.Kind.PERSISTENT_VOLUME_CLAIM: claimchecks.build,
}
